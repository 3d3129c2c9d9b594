"""The seed's person comes from two of Faker's modules, loaded without the `faker` package's
locale scan: the same person, the same bytes, and Faker left whole for anyone else."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

SEEDS = (0, 1, 7, 42, 2**40 + 3)

# Prints the first answers of a fresh app, then the persons of SEEDS, as JSON lines.
FIRST_ANSWERS = """
import json, sys
from dataclasses import astuple
if sys.argv[1] == "faker-first":
    import faker  # Faker already loaded: the person comes from it as it stands
if sys.argv[1] == "no-lock":
    import mockgpt.fakedata  # a Python without CPython's module lock: the ordinary import
    mockgpt.fakedata._import_lock = lambda: None
from starlette.testclient import TestClient
from mockgpt import Config, create_app
from mockgpt.fakedata import _person
app = create_app(Config(seed=int(sys.argv[2]), clock="virtual"))
auth = {"Authorization": "Bearer t"}
with TestClient(app) as client:
    me = client.get("/backend-api/me", headers=auth)
    session = client.get("/api/auth/session")
print(json.dumps([me.status_code, me.text, session.text]))
print(json.dumps(sorted(name for name in sys.modules if name.split(".")[0] == "faker")))
print(json.dumps([astuple(_person(seed)) for seed in json.loads(sys.argv[3])]))
"""


def first_answers(mode: str, seed: int) -> list[object]:
    done = subprocess.run(
        [sys.executable, "-c", FIRST_ANSWERS, mode, str(seed), json.dumps(SEEDS)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [json.loads(line) for line in done.stdout.splitlines()]


@pytest.mark.parametrize("seed", [0, 5])
def test_the_first_me_is_the_same_bytes_with_or_without_faker_loaded_before(seed: int) -> None:
    (status, me, session), private_modules, private_people = first_answers("cold", seed)
    (status_2, me_2, session_2), loaded_modules, loaded_people = first_answers("faker-first", seed)
    assert status == status_2 == 200
    assert me == me_2
    assert session == session_2
    assert json.loads(me)["email"] in session
    assert private_people == loaded_people
    assert private_modules == []  # no `faker` module left behind by the private load
    assert "faker.config" in loaded_modules  # the other process had Faker whole


def test_without_cpythons_module_lock_the_person_comes_from_the_whole_faker() -> None:
    (status, me, session), private_modules, private_people = first_answers("cold", 3)
    (status_2, me_2, session_2), plain_modules, plain_people = first_answers("no-lock", 3)
    assert status == status_2 == 200
    assert (me, session, private_people) == (me_2, session_2, plain_people)
    assert private_modules == []
    assert "faker.generator" in plain_modules


def test_the_person_is_a_full_fakers_draw_and_faker_still_imports_whole_after_it() -> None:
    code = """
import json, string, sys
from mockgpt.fakedata import _person, _rng
people = [_person(seed) for seed in json.loads(sys.argv[1])]
import faker.generator
from faker import Faker
assert faker.generator.Generator is Faker("en_US").factories[0].__class__
fake = Faker("en_US")
drawn = []
for seed in json.loads(sys.argv[1]):
    fake.seed_instance(_rng(seed, "person", "").getrandbits(64))
    first, last = fake.first_name(), fake.last_name()
    domain = fake.random_element(("example.com", "example.org", "example.net"))
    digits = "".join(fake.random_choices(string.digits, length=4))
    drawn.append([f"{first} {last}", domain, "+1555555" + digits])
print(json.dumps([[p.name, p.email.rpartition("@")[2], p.phone_number] for p in people]))
print(json.dumps(drawn))
"""
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(SEEDS)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    ours, fakers = (json.loads(line) for line in done.stdout.splitlines())
    assert ours == fakers
    assert len({name for name, _, _ in ours}) == len(SEEDS)


RACE = """
import sys, threading
from mockgpt import fakedata
sys.setswitchinterval(1e-6)  # switch threads as often as CPython allows
failed = []
start = threading.Barrier(2)
def draw():
    start.wait()
    try:
        fakedata._person(1)
    except BaseException as error:
        failed.append(repr(error))
threads = [threading.Thread(target=draw) for _ in range(2)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(failed, "faker.config" in sys.modules)
"""


def test_two_threads_drawing_the_first_person_at_once_share_one_quick_load() -> None:
    """`serve`'s start-up thread and the first request may both draw the person: neither
    fails, and neither falls back to loading the whole of Faker (unlocked, 40 % of such
    starts did)."""
    for _ in range(6):
        done = subprocess.run(
            [sys.executable, "-c", RACE], capture_output=True, text=True, timeout=60, check=True
        )
        assert done.stdout.split() == ["[]", "False"], done.stdout + done.stderr
