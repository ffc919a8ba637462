"""The studio's one page: HTML, CSS and plain JavaScript (no framework, nothing fetched from the
network). It asks ``/api/runs`` what each run can do and shows only those controls."""

PAGE = r"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>sonogen studio</title>
<style>
  body { font: 15px/1.4 system-ui, sans-serif; margin: 0 auto; max-width: 1100px; padding: 1em; }
  h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin: 0 0 .2em; }
  .run { border: 1px solid #ccc; border-radius: 6px; padding: 1em; margin: 1em 0; }
  .desc { color: #555; margin: 0 0 .6em; }
  .tool { border-top: 1px solid #eee; padding: .6em 0; }
  .tool h3 { font-size: 1em; margin: 0 0 .4em; }
  label { margin-right: 1em; white-space: nowrap; }
  input[type=number] { width: 6em; } input.seed { width: 9em; }
  button { padding: .3em .9em; }
  .error { color: #a00; background: #fee; padding: .4em; border-radius: 4px; margin: .4em 0; }
  .error:empty { display: none; }
  .busy { color: #666; }
  .clips { display: flex; flex-wrap: wrap; gap: .8em; margin-top: .5em; }
  figure { margin: 0; width: 260px; }
  figure img { width: 256px; display: block; }
  figure audio { width: 256px; }
  figcaption { font-size: .85em; color: #444; }
  table.numbers { border-collapse: collapse; font-size: .9em; margin: .3em 0 .6em; }
  table.numbers td, table.numbers th { border-bottom: 1px solid #eee; padding: .1em .8em .1em 0;
    text-align: left; }
</style>
</head>
<body>
<h1>sonogen studio</h1>
<p class="desc">Generate, morph and transfer with your trained runs; every clip can be played,
seen and downloaded. Nothing leaves this machine.</p>
<div id="page-error" class="error" role="alert"></div>
<div id="runs">loading the runs...</div>
<script>
"use strict";
const $ = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "text") node.textContent = value; else node.setAttribute(key, value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
};

async function call(url, options) {
  let response;
  try { response = await fetch(url, options); }
  catch (error) { throw new Error("the studio did not answer (" + error.message + ")"); }
  let body;
  try { body = await response.json(); }
  catch (error) { throw new Error("the studio answered " + response.status); }
  if (!response.ok) throw new Error(body.error || ("the studio answered " + response.status));
  return body;
}
const post = (url, body) => call(url, {method: "POST", body: JSON.stringify(body),
  headers: {"Content-Type": "application/json"}});

const MAX_UPLOAD = 20 * 1024 * 1024;
async function upload(file) {
  if (file.size > MAX_UPLOAD) {
    throw new Error(file.name + ": " + (file.size / 1048576).toFixed(1) +
      " MB; the studio takes files of at most 20 MB");
  }
  return call("/api/upload?name=" + encodeURIComponent(file.name), {method: "POST", body: file});
}

function field(label, input) { return $("label", {}, label + " ", input); }
function numberInput(name, value, attrs = {}) {
  return $("input", Object.assign({type: "number", name: name, value: value}, attrs));
}

function showClips(box, clips) {
  box.replaceChildren();
  for (const clip of clips) {
    const figure = $("figure", {class: "clip"},
      $("img", {src: clip.image, alt: "spectrogram: " + clip.caption}),
      $("audio", {controls: "", src: clip.audio, preload: "auto",
                  "data-samples": clip.samples, "data-rate": clip.sample_rate}),
      $("figcaption", {},
        clip.caption + " (" + clip.seconds + " s) ",
        $("a", {href: clip.audio, download: "sonogen.wav", text: "WAV"}),
        clip.midi ? " " : null,
        clip.midi ? $("a", {href: clip.midi, download: "sonogen.mid", text: "MIDI"}) : null));
    box.append(figure);
  }
}

// A tool: a form, a button, an error line and a row of clips. `gather` returns the request.
function tool(title, controls, action, gather) {
  const error = $("div", {class: "error", role: "alert"});
  const clips = $("div", {class: "clips"});
  const status = $("span", {class: "busy"});
  const button = $("button", {type: "button", text: title});
  button.addEventListener("click", async () => {
    error.textContent = ""; status.textContent = " working...";
    button.disabled = true;
    try {
      const result = await post(action, await gather());
      showClips(clips, result.clips);
      status.textContent = " done in " + result.elapsed + " s";
    } catch (failure) {
      error.textContent = failure.message; status.textContent = "";
      if (failure.message.includes("upload is gone")) forgetUploads.forEach((forget) => forget());
    } finally { button.disabled = false; }
  });
  return $("div", {class: "tool"}, $("h3", {text: title}), ...controls, " ", button, status,
           error, clips);
}

function labelSelect(labels) {
  const select = $("select", {name: "label"}, $("option", {value: "", text: "any (from the seed)"}));
  for (const label of labels) select.append($("option", {value: label, text: label}));
  return select;
}
const value = (input) => input.value === "" ? null : input.value;
const number = (input) => input.value === "" ? null : Number(input.value);

function recorder(onDone, onError) {
  // records from the microphone to a 16-bit WAV in the page, then uploads it like a file
  const button = $("button", {type: "button", text: "record"});
  let stop = null;
  button.addEventListener("click", async () => {
    if (stop) { stop(); return; }
    let stream;
    try {
      if (!navigator.mediaDevices) throw new Error("this page has no microphone access (open it as http://127.0.0.1 or localhost)");
      stream = await navigator.mediaDevices.getUserMedia({audio: true});
    } catch (failure) { onError("cannot record: " + failure.message); return; }
    const context = new AudioContext();
    const source = context.createMediaStreamSource(stream);
    const node = context.createScriptProcessor(4096, 1, 1);
    const chunks = [];
    node.onaudioprocess = (event) => chunks.push(new Float32Array(event.inputBuffer.getChannelData(0)));
    source.connect(node); node.connect(context.destination);
    button.textContent = "stop";
    stop = () => {
      node.disconnect(); source.disconnect(); stream.getTracks().forEach((t) => t.stop());
      const rate = context.sampleRate; context.close(); stop = null; button.textContent = "record";
      onDone(new File([wav(chunks, rate)], "recording.wav", {type: "audio/wav"}));
    };
  });
  return button;
}
function wav(chunks, rate) {
  const length = chunks.reduce((sum, c) => sum + c.length, 0);
  const view = new DataView(new ArrayBuffer(44 + 2 * length));
  const text = (offset, s) => [...s].forEach((ch, i) => view.setUint8(offset + i, ch.charCodeAt(0)));
  text(0, "RIFF"); view.setUint32(4, 36 + 2 * length, true); text(8, "WAVEfmt ");
  view.setUint32(16, 16, true); view.setUint16(20, 1, true); view.setUint16(22, 1, true);
  view.setUint32(24, rate, true); view.setUint32(28, 2 * rate, true);
  view.setUint16(32, 2, true); view.setUint16(34, 16, true); text(36, "data");
  view.setUint32(40, 2 * length, true);
  let offset = 44;
  for (const chunk of chunks) for (const x of chunk) {
    view.setInt16(offset, Math.max(-1, Math.min(1, x)) * 32767, true); offset += 2;
  }
  return view.buffer;
}

// a file input (or recording) whose upload id `get()` returns, uploading on first use (and
// again after the studio has dropped it: forgetUploads)
const forgetUploads = [];
function soundInput(name) {
  const input = $("input", {type: "file", name: name, accept: "audio/*,.wav,.flac,.ogg,.aiff,.mp3"});
  let recorded = null, sent = null, sentId = null;  // the file uploaded last, and its id
  const note = $("span", {class: "busy"});
  const record = recorder((file) => { recorded = file; note.textContent = " recorded"; },
                          (message) => { note.textContent = " " + message; });
  input.addEventListener("change", () => { recorded = null; note.textContent = ""; });
  const get = async () => {
    const file = recorded || input.files[0];
    if (!file) throw new Error(name + ": choose a sound file or record one");
    if (file !== sent) { sentId = (await upload(file)).upload; sent = file; }
    return sentId;
  };
  forgetUploads.push(() => { sent = null; sentId = null; });
  return {nodes: [input, " ", record, note], get: get};
}

function runSection(run) {
  const can = run.can;
  const section = $("section", {class: "run", id: "run-" + run.index},
    $("h2", {text: run.name + " (" + run.model + ")"}), $("p", {class: "desc", text: run.description}));
  const numbers = $("table", {class: "numbers"},
    $("tr", {}, $("th", {text: ""}), $("th", {text: "this run"}), $("th", {text: "real held-out"})));
  for (const [name, mine, real] of run.numbers) {
    numbers.append($("tr", {}, $("td", {text: name}), $("td", {text: mine}), $("td", {text: real})));
  }
  section.append(numbers);

  if (can.generate) {
    const n = numberInput("n", 4, {min: 1, max: 16});
    const seed = numberInput("seed", "", {class: "seed", placeholder: "random"});
    const temperature = numberInput("temperature", 1, {step: 0.05, min: 0});
    const controls = [field("n", n), field("seed", seed), field("temperature", temperature)];
    let label = null;
    if (run.labels.length) { label = labelSelect(run.labels); controls.unshift(field("label", label)); }
    const options = {};
    const defaults = {truncation: "", guidance: "", steps: "", sampler: ""};
    for (const name of can.options) {
      options[name] = name === "sampler"
        ? $("select", {name: name}, ...["", "euler", "midpoint", "heun"].map(
            (s) => $("option", {value: s, text: s || "the run's"})))
        : numberInput(name, defaults[name], {step: "any", placeholder: "the run's"});
      controls.push(field(name, options[name]));
    }
    let seconds = null;
    if (can.any_length) { seconds = numberInput("seconds", 1, {step: 0.1, min: 0.1, max: 30});
                          controls.push(field("seconds", seconds)); }
    section.append(tool("generate", controls, "/api/generate", () => {
      const body = {run: run.index, n: number(n), seed: value(seed), temperature: number(temperature)};
      if (label) body.label = value(label);
      for (const [name, input] of Object.entries(options)) {
        body[name] = name === "sampler" ? value(input) : number(input);
      }
      if (seconds) body.seconds = number(seconds);
      return body;
    }));
  }
  if (can.morph.includes("seeds")) {
    const a = numberInput("seed_a", 1, {class: "seed"}), b = numberInput("seed_b", 2, {class: "seed"});
    const steps = numberInput("steps", 8, {min: 2, max: 32});
    const controls = [field("seed A", a), field("seed B", b), field("steps", steps)];
    let label = null;
    if (run.labels.length) { label = labelSelect(run.labels); controls.push(field("label", label)); }
    section.append(tool("morph between seeds", controls, "/api/morph", () => ({
      run: run.index, seed_a: value(a), seed_b: value(b), steps: number(steps),
      label: label ? value(label) : null})));
  }
  if (can.morph.includes("sounds")) {
    const a = soundInput("sound A"), b = soundInput("sound B");
    const steps = numberInput("steps", 8, {min: 2, max: 32});
    section.append(tool("morph between sounds",
      [field("A", $("span", {}, ...a.nodes)), field("B", $("span", {}, ...b.nodes)), field("steps", steps)],
      "/api/morph", async () => ({run: run.index, upload_a: await a.get(), upload_b: await b.get(),
                                  steps: number(steps)})));
  }
  if (can.transfer || can.continue) {
    const sound = soundInput("sound");
    const mode = $("select", {name: "mode"});
    if (can.transfer) for (const m of ["transfer", "reconstruct"]) mode.append($("option", {value: m, text: m}));
    if (can.continue) mode.append($("option", {value: "continue", text: "continue"}));
    const seconds = numberInput("seconds", 1, {step: 0.1, min: 0.1, max: 30});
    const controls = [$("span", {class: "sound"}, ...sound.nodes), " ", field("as", mode)];
    if (can.continue) controls.push(field("seconds to add", seconds));
    section.append(tool("through the model", controls, "/api/transfer", async () => ({
      run: run.index, upload: await sound.get(), mode: mode.value, seconds: number(seconds)})));
  }
  if (can.compose) {
    const bars = numberInput("bars", 4, {min: 1, max: 64});
    const n = numberInput("n", 1, {min: 1, max: 4});
    const seed = numberInput("seed", "", {class: "seed", placeholder: "random"});
    const temperature = numberInput("temperature", 1, {step: 0.05, min: 0});
    section.append(tool("compose",
      [field("bars", bars), field("pieces", n), field("seed", seed), field("temperature", temperature)],
      "/api/compose", () => ({run: run.index, bars: number(bars), n: number(n), seed: value(seed),
                              temperature: number(temperature)})));
  }
  return section;
}

(async () => {
  const box = document.getElementById("runs");
  try {
    const runs = await call("/api/runs");
    box.replaceChildren(...runs.map(runSection));
  } catch (failure) {
    box.textContent = "";
    document.getElementById("page-error").textContent = failure.message;
  }
})();
</script>
</body>
</html>
"""
