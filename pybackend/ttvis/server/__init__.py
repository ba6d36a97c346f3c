"""The backend server: one transport-agnostic API (``api``), served as JSON-RPC 2.0 over
stdio with LSP framing for VS Code (``lsp``, pygls) and over websockets for the browser
(``web``), plus array encoding for the wire (``encoding``) and run discovery (``discover``)."""
