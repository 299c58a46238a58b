"""Search-agent data: corpora, a tantivy index, the search tools (embedded or over HTTP), the
`/retrieve` service, and the agents that construct, answer and verify questions.

Heavy libraries (tantivy, pyahocorasick, aiohttp) are imported inside the modules that need
them, so importing this package is cheap.
"""
