"""The OpenAI Responses API (`/v1/responses`) and ChatGPT's Codex endpoint.

`encoding` turns an answer into the event stream (pure data), `objects`
builds the response object and its items, `service` answers the routes and
keeps stored responses, `writer` streams the events until the stream engine
takes the encoding over.
"""
