"""Server-rendered HTML: the login form and the annotator page (plain JS in static/)."""

from __future__ import annotations

from html import escape
from string import Template

_HEAD = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title</title><link rel="stylesheet" href="/static/annotate.css"></head>"""

_LOGIN = Template(
    _HEAD
    + """
<body class="login"><main>
<h1>vidalign annotation</h1>
<form method="post" action="/login">
<label for="token">Your annotator token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Sign in</button>
<p class="error">$error</p>
</form></main></body></html>"""
)

_ANNOTATE = Template(
    _HEAD
    + """
<body data-state="loading">
<header>
  <span class="who">$name</span>
  <span id="progress" class="progress">…</span>
  <form method="post" action="/logout"><button type="submit">Sign out</button></form>
</header>
<main>
  <p id="prompt" class="prompt"></p>
  <section class="videos">
    <figure><video id="video-left" preload="auto" muted playsinline></video><figcaption>Left</figcaption></figure>
    <figure><video id="video-right" preload="auto" muted playsinline></video><figcaption>Right</figcaption></figure>
  </section>
  <section class="player">
    <button id="play" type="button" title="Play / pause (Space)">Play</button>
    <button id="step-back" type="button" title="Previous frame (,)">&#9664;|</button>
    <button id="step-fwd" type="button" title="Next frame (.)">|&#9654;</button>
    <input id="scrub" type="range" min="0" max="1000" value="0" step="1" aria-label="Position">
    <span id="time" class="time">0.00 s</span>
    <label><input id="loop" type="checkbox" checked> Loop (l)</label>
    <label>Speed ([ ])
      <select id="speed">
        <option value="0.25">0.25×</option><option value="0.5">0.5×</option>
        <option value="1" selected>1×</option><option value="1.5">1.5×</option>
        <option value="2">2×</option>
      </select></label>
  </section>
  <table id="dims" class="dims"><tbody></tbody></table>
  <section class="actions">
    <button id="submit" type="button" class="primary">Submit (Enter)</button>
    <button id="undo" type="button">Undo last (u)</button>
    <button id="skip-broken" type="button">Skip: video broken (b)</button>
    <button id="skip-unsure" type="button">Skip: unsure (?)</button>
  </section>
  <p id="status" class="status" role="status"></p>
  <p class="help">Keys: ← left better, ↓ same, → right better on the highlighted row (then the next
  row); ↑ previous row; 1–9 pick a row; Space play/pause; , . frame step; l loop; [ ] speed;
  Enter submit; u undo; b / ? skip.</p>
</main>
<script src="/static/annotate.js"></script>
</body></html>"""
)


def login_page(error: str = "") -> str:
    return _LOGIN.substitute(title="Sign in · vidalign", error=escape(error))


def annotate_page(annotator_name: str) -> str:
    return _ANNOTATE.substitute(title="Annotate · vidalign", name=escape(annotator_name))
