from mockgpt.cli import main

raise SystemExit(main())
