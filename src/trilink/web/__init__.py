"""The live operational picture: an ASGI app per run of ``trilink serve``. SIMULATION ONLY.

::

    replay (thread: run_event)  ──on_step──▶  views (per-nation JSON)  ──▶  feed (hub)
          ▲                        on_message─▶ links (traffic per link)      │
          │ agreements file (Deployment.set_state)                            ▼
    app: JSON API (auth, errors, models) ◀──────────── viewers (WebSocket /ws, the page)

- :mod:`.app`: the FastAPI app (routes, OpenAPI document, WebSocket, static front end);
- :mod:`.auth`: one bearer token per nation; who may change which agreement;
- :mod:`.errors`: the one JSON error shape ``{ok, error, errors, status}``;
- :mod:`.views`: a nation's picture as JSON — what it holds and nothing else;
- :mod:`.feed`: the latest picture per nation, handed to that nation's viewers;
- :mod:`.replay`: the replay of a library event on its own thread;
- :mod:`.links`, :mod:`.audit`, :mod:`.geo`: link traffic, audit tail, map layers;
- :mod:`.cot`: one nation's view as Cursor on Target for TAK clients (``--cot-port``);
- :mod:`.server`: ``trilink serve`` (uvicorn on a loopback address).
"""

from trilink.web.app import create_app
from trilink.web.auth import NationTokens
from trilink.web.feed import FeedHub
from trilink.web.replay import ReplayRunner
from trilink.web.server import serve_picture

__all__ = ["FeedHub", "NationTokens", "ReplayRunner", "create_app", "serve_picture"]
