"""The OpenAI Responses API (`/v1/responses`) and ChatGPT's Codex endpoint.

`encoding` holds an answer as data and makes it turn events, which the stream
engine's `responses` encoding (`mockgpt.wire.encodings.responses`) streams;
`objects` builds the response object and its items; `service` answers the
routes and keeps stored responses.
"""
