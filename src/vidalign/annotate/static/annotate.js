// vidalign annotator page: two videos played in sync, one label row per dimension.
// Plain JS, no build step. The server maps left/right back to A/B; this page never knows which is A.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const left = $("video-left");
  const right = $("video-right");
  const videos = [left, right];
  const scrub = $("scrub");
  const rowsBody = $("dims").querySelector("tbody");
  const SPEEDS = ["0.25", "0.5", "1", "1.5", "2"];
  const SYNC_TOLERANCE_S = 0.04;

  let item = null; // the assignment shown now
  let choices = {}; // dim -> "left" | "right" | "same"
  let focusRow = 0;
  let shownAt = performance.now();
  let busy = false;
  let playing = false;

  function setStatus(text) { $("status").textContent = text || ""; }
  function setState(state) { document.body.dataset.state = state; }

  async function api(method, url, body) {
    const init = { method, headers: {}, credentials: "same-origin" };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const res = await fetch(url, init);
    let data = null;
    try { data = await res.json(); } catch (e) { data = null; }
    return { status: res.status, data };
  }

  // ---- synchronised playback: the longer video is the clock, the other follows ----------
  function duration(v) { return Number.isFinite(v.duration) ? v.duration : 0; }
  function master() { return duration(right) > duration(left) ? right : left; }
  function follower() { return master() === left ? right : left; }

  function seekAll(t) {
    for (const v of videos) {
      const d = duration(v);
      v.currentTime = Math.max(0, d > 0 ? Math.min(t, d) : t);
    }
    showTime();
  }

  function showTime() {
    const m = master();
    const d = duration(m);
    $("time").textContent = m.currentTime.toFixed(2) + " s";
    if (d > 0 && document.activeElement !== scrub) scrub.value = String(Math.round((1000 * m.currentTime) / d));
  }

  function tick() {
    if (!playing) return;
    const m = master();
    const f = follower();
    const target = Math.min(m.currentTime, duration(f) || m.currentTime);
    if (!f.seeking && Math.abs(f.currentTime - target) > SYNC_TOLERANCE_S) f.currentTime = target;
    if (f.paused && !f.ended && !m.paused && f.currentTime < duration(f)) f.play().catch(() => {});
    showTime();
    requestAnimationFrame(tick);
  }

  function play() {
    const m = master();
    if (m.ended || m.currentTime >= duration(m)) seekAll(0);
    playing = true;
    $("play").textContent = "Pause";
    Promise.all(videos.map((v) => v.play())).catch((e) => setStatus("Cannot play: " + e.message));
    requestAnimationFrame(tick);
  }

  function pause() {
    playing = false;
    $("play").textContent = "Play";
    for (const v of videos) v.pause();
    seekAll(master().currentTime);
  }

  function togglePlay() { if (playing) pause(); else play(); }

  function stepFrame(direction) {
    if (playing) pause();
    const fps = (master() === left ? item && item.fps.left : item && item.fps.right) || 25;
    seekAll(master().currentTime + direction / fps);
  }

  function setSpeed(value) {
    $("speed").value = value;
    for (const v of videos) v.playbackRate = Number(value);
  }

  function nudgeSpeed(delta) {
    const i = SPEEDS.indexOf($("speed").value);
    setSpeed(SPEEDS[Math.max(0, Math.min(SPEEDS.length - 1, i + delta))]);
  }

  function onEnded(ev) {
    if (ev.target !== master()) return;
    if ($("loop").checked && playing) {
      seekAll(0);
      for (const v of videos) v.play().catch(() => {});
    } else {
      pause();
    }
  }

  // ---- label rows --------------------------------------------------------------------------
  function renderRows(dims) {
    rowsBody.textContent = "";
    dims.forEach((dim, i) => {
      const tr = document.createElement("tr");
      tr.dataset.dim = dim;
      const name = document.createElement("td");
      name.textContent = (i + 1) + ". " + dim;
      tr.appendChild(name);
      for (const [value, text] of [["left", "Left better"], ["same", "Same"], ["right", "Right better"]]) {
        const td = document.createElement("td");
        const label = document.createElement("label");
        const input = document.createElement("input");
        input.type = "radio";
        input.name = "dim-" + dim;
        input.value = value;
        input.addEventListener("change", () => { choose(dim, value, false); });
        label.appendChild(input);
        label.appendChild(document.createTextNode(" " + text));
        td.appendChild(label);
        tr.appendChild(td);
      }
      tr.addEventListener("click", () => setFocus(i));
      rowsBody.appendChild(tr);
    });
  }

  function setFocus(i) {
    const rows = rowsBody.querySelectorAll("tr");
    focusRow = Math.max(0, Math.min(rows.length - 1, i));
    rows.forEach((tr, j) => tr.classList.toggle("focus", j === focusRow));
  }

  function choose(dim, value, advance) {
    choices[dim] = value;
    const input = rowsBody.querySelector('input[name="dim-' + CSS.escape(dim) + '"][value="' + value + '"]');
    if (input) input.checked = true;
    if (advance) setFocus(focusRow + 1);
  }

  // ---- items -------------------------------------------------------------------------------
  function showProgress(p) {
    if (p) $("progress").textContent = p.done + " done · " + p.remaining + (p.more ? "+" : "") + " left";
  }

  function show(payload) {
    showProgress(payload.progress);
    pause();
    item = payload.item;
    choices = {};
    if (!item) {
      $("prompt").textContent = "All done: nothing left to annotate. Thank you!";
      rowsBody.textContent = "";
      for (const v of videos) v.removeAttribute("src");
      setState("done");
      return;
    }
    $("prompt").textContent = item.prompt;
    renderRows(item.dims);
    setFocus(0);
    left.src = item.videos.left;
    right.src = item.videos.right;
    for (const v of videos) v.load();
    setSpeed($("speed").value);
    if (item.previous) for (const [d, c] of Object.entries(item.previous)) choose(d, c, false);
    shownAt = performance.now();
    setState("ready");
  }

  async function loadNext() {
    setState("loading");
    const res = await api("GET", "/api/next");
    if (res.status === 401) { window.location = "/login"; return; }
    if (res.status !== 200) { setStatus(detail(res)); return; }
    show(res.data);
  }

  function detail(res) {
    return "Error " + res.status + ": " + (res.data && res.data.detail ? JSON.stringify(res.data.detail) : "");
  }

  function spentMs() { return Math.max(0, Math.round(performance.now() - shownAt)); }

  async function submit() {
    if (!item || busy) return;
    const missing = item.dims.filter((d) => !(d in choices));
    if (missing.length) { setStatus("Choose a label for " + missing.join(", ") + "."); return; }
    busy = true;
    try {
      const res = await api("POST", "/api/judgments",
        { assignment_id: item.assignment_id, labels: choices, time_spent_ms: spentMs() });
      if (res.status === 201) setStatus("Saved.");
      else if (res.status === 409) setStatus("Already saved.");
      else { setStatus(detail(res)); return; }
      await loadNext();
    } finally { busy = false; }
  }

  async function skip(reason) {
    if (!item || busy) return;
    busy = true;
    try {
      const res = await api("POST", "/api/skips",
        { assignment_id: item.assignment_id, reason, time_spent_ms: spentMs() });
      if (res.status !== 201 && res.status !== 409) { setStatus(detail(res)); return; }
      setStatus("Skipped (" + reason + ").");
      await loadNext();
    } finally { busy = false; }
  }

  async function undo() {
    if (busy) return;
    busy = true;
    try {
      const res = await api("POST", "/api/undo");
      if (res.status !== 200) { setStatus(res.status === 409 ? "Nothing to undo." : detail(res)); return; }
      setStatus("Undone: the last answer is back.");
      show(res.data);
    } finally { busy = false; }
  }

  // ---- wiring ------------------------------------------------------------------------------
  $("play").addEventListener("click", togglePlay);
  $("step-back").addEventListener("click", () => stepFrame(-1));
  $("step-fwd").addEventListener("click", () => stepFrame(1));
  $("speed").addEventListener("change", (e) => { setSpeed(e.target.value); e.target.blur(); });
  scrub.addEventListener("input", () => {
    const d = duration(master());
    if (d > 0) seekAll((Number(scrub.value) / 1000) * d);
  });
  scrub.addEventListener("change", () => scrub.blur());
  for (const v of videos) {
    v.addEventListener("ended", onEnded);
    v.addEventListener("loadedmetadata", showTime);
    v.addEventListener("error", () => setStatus("A video failed to load; use Skip: video broken (b)."));
  }
  $("submit").addEventListener("click", submit);
  $("undo").addEventListener("click", undo);
  $("skip-broken").addEventListener("click", () => skip("video broken"));
  $("skip-unsure").addEventListener("click", () => skip("unsure"));

  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const tag = e.target && e.target.tagName;
    if (tag === "INPUT" && e.target.type !== "radio" && e.target.type !== "checkbox" && e.target.type !== "range") return;
    if (tag === "SELECT") return;
    const dims = item ? item.dims : [];
    let handled = true;
    switch (e.key) {
      case " ": togglePlay(); break;
      case "ArrowLeft": if (dims.length) choose(dims[focusRow], "left", true); break;
      case "ArrowRight": if (dims.length) choose(dims[focusRow], "right", true); break;
      case "ArrowDown": if (dims.length) choose(dims[focusRow], "same", true); break;
      case "ArrowUp": setFocus(focusRow - 1); break;
      case ",": stepFrame(-1); break;
      case ".": stepFrame(1); break;
      case "l": $("loop").checked = !$("loop").checked; break;
      case "[": nudgeSpeed(-1); break;
      case "]": nudgeSpeed(1); break;
      case "Enter": submit(); break;
      case "u": undo(); break;
      case "b": skip("video broken"); break;
      case "?": skip("unsure"); break;
      default:
        if (/^[1-9]$/.test(e.key)) setFocus(Number(e.key) - 1);
        else handled = false;
    }
    if (handled) e.preventDefault();
  });

  window.vidalignPage = { seekAll, play, pause, state: () => ({ item, choices, playing }) };
  loadNext();
})();
