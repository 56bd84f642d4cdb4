// AudioSetMix caption audit: judgements in localStorage, export/import as JSON. No dependencies.
(function () {
  "use strict";

  var meta = JSON.parse(document.getElementById("audit-meta").textContent);
  var KEY = "audiosetmix-audit:" + meta.page_key;
  var rowsById = {};
  meta.rows.forEach(function (row) { rowsById[row.id] = row; });

  function emptyState() { return { rows: {} }; }

  function load() {
    try {
      var data = JSON.parse(window.localStorage.getItem(KEY) || "null");
      return data && typeof data.rows === "object" ? data : emptyState();
    } catch (err) {
      return emptyState();
    }
  }

  var state = load();

  function save() {
    try {
      window.localStorage.setItem(KEY, JSON.stringify(state));
    } catch (err) {
      document.getElementById("progress").textContent = "could not save in this browser: " + err;
    }
  }

  function entry(rowId) {
    if (!state.rows[rowId]) { state.rows[rowId] = { caption: null, negatives: {}, note: "" }; }
    return state.rows[rowId];
  }

  function judgement(rowId, target) {
    var e = state.rows[rowId];
    if (!e) { return null; }
    if (target === "caption") { return e.caption || null; }
    return (e.negatives || {})[target.replace("negative-", "")] || null;
  }

  function setJudgement(rowId, target, value) {
    var e = entry(rowId);
    if (target === "caption") {
      e.caption = value;
    } else {
      e.negatives = e.negatives || {};
      var index = target.replace("negative-", "");
      if (value === null) { delete e.negatives[index]; } else { e.negatives[index] = value; }
    }
    save();
  }

  function rowDone(row) {
    if (!judgement(row.id, "caption")) { return false; }
    for (var i = 0; i < row.negatives.length; i++) {
      if (!judgement(row.id, "negative-" + i)) { return false; }
    }
    return true;
  }

  function refresh() {
    var buttons = document.querySelectorAll("button.judge");
    for (var i = 0; i < buttons.length; i++) {
      var b = buttons[i];
      var on = judgement(b.dataset.row, b.dataset.target) === b.dataset.value;
      b.classList.toggle("active", on);
      b.setAttribute("aria-pressed", on ? "true" : "false");
    }
    var captions = 0, negatives = 0, negativesTotal = 0, done = 0;
    meta.rows.forEach(function (row) {
      var section = document.getElementById("row-" + row.id);
      var c = judgement(row.id, "caption");
      var n = 0;
      for (var k = 0; k < row.negatives.length; k++) { if (judgement(row.id, "negative-" + k)) { n++; } }
      captions += c ? 1 : 0;
      negatives += n;
      negativesTotal += row.negatives.length;
      var finished = rowDone(row);
      done += finished ? 1 : 0;
      if (section) {
        section.classList.toggle("done", finished);
        var status = section.querySelector(".status");
        status.textContent = (c ? "caption " + c : "caption open") + " \u00b7 negatives " + n + "/" + row.negatives.length;
      }
    });
    document.getElementById("progress").textContent = "judged: " + captions + "/" + meta.rows.length + " captions, " +
      negatives + "/" + negativesTotal + " negatives (" + done + " rows complete)";
    document.body.classList.toggle("only-open", document.getElementById("only-open").checked);
  }

  function exportObject() {
    return {
      format: meta.format,
      format_version: meta.format_version,
      page_key: meta.page_key,
      dataset: meta.dataset,
      split: meta.split,
      seed: meta.seed,
      n: meta.rows.length,
      exported_at: new Date().toISOString(),
      rows: meta.rows.map(function (row) {
        var e = state.rows[row.id] || {};
        return {
          id: row.id,
          caption: row.caption,
          caption_source: row.caption_source,
          prompt_version: row.prompt_version,
          labels: row.labels,
          modifiers: row.modifiers,
          caption_judgement: e.caption || null,
          note: e.note || "",
          negatives: row.negatives.map(function (neg, i) {
            return { index: i, kind: neg.kind, caption: neg.caption, judgement: ((e.negatives || {})[String(i)]) || null };
          })
        };
      })
    };
  }

  function exportJson() {
    var text = JSON.stringify(exportObject(), null, 1);
    document.getElementById("export-json").value = text;  // also readable by scripts and tests
    var blob = new Blob([text], { type: "application/json" });
    var url = URL.createObjectURL(blob);
    var a = document.createElement("a");
    a.href = url;
    a.download = "audit-" + String(meta.dataset).replace(/[^A-Za-z0-9_.-]+/g, "_") + "-" + meta.split + "-seed" + meta.seed + ".json";
    document.body.appendChild(a);
    a.click();
    document.body.removeChild(a);
    window.setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
    return text;
  }

  function importJson(text) {
    var data = JSON.parse(text);
    if (!data || data.format !== meta.format || !Array.isArray(data.rows)) {
      throw new Error("not an AudioSetMix audit export");
    }
    var used = 0;
    data.rows.forEach(function (r) {
      var row = rowsById[r.id];
      if (!row || row.caption !== r.caption) { return; }  // another sample or another build: skip
      var e = entry(r.id);
      if (r.caption_judgement) { e.caption = r.caption_judgement; }
      if (r.note) { e.note = r.note; }
      (r.negatives || []).forEach(function (n) {
        var mine = row.negatives[n.index];
        if (n.judgement && mine && mine.caption === n.caption) { e.negatives[String(n.index)] = n.judgement; }
      });
      used++;
    });
    save();
    applyNotes();
    refresh();
    return used;
  }

  function applyNotes() {
    var notes = document.querySelectorAll("textarea.note");
    for (var i = 0; i < notes.length; i++) {
      var e = state.rows[notes[i].dataset.row];
      notes[i].value = e && e.note ? e.note : "";
    }
  }

  document.addEventListener("click", function (event) {
    var b = event.target.closest ? event.target.closest("button.judge") : null;
    if (!b) { return; }
    var current = judgement(b.dataset.row, b.dataset.target);
    setJudgement(b.dataset.row, b.dataset.target, current === b.dataset.value ? null : b.dataset.value);
    refresh();
  });

  document.addEventListener("input", function (event) {
    var t = event.target;
    if (t.classList && t.classList.contains("note")) {
      entry(t.dataset.row).note = t.value;
      save();
    }
  });

  document.getElementById("export").addEventListener("click", exportJson);
  document.getElementById("only-open").addEventListener("change", refresh);
  document.getElementById("clear").addEventListener("click", function () {
    if (window.confirm("Clear every judgement and note of this audit in this browser?")) {
      state = emptyState();
      save();
      applyNotes();
      refresh();
    }
  });
  document.getElementById("import").addEventListener("change", function (event) {
    var file = event.target.files && event.target.files[0];
    if (!file) { return; }
    var reader = new FileReader();
    reader.onload = function () {
      try {
        var used = importJson(String(reader.result));
        document.getElementById("progress").textContent += " \u00b7 imported " + used + " rows";
      } catch (err) {
        window.alert("Import failed: " + err.message);
      }
      event.target.value = "";
    };
    reader.readAsText(file);
  });

  window.audiosetmixAudit = { exportJson: exportJson, exportObject: exportObject, importJson: importJson, storageKey: KEY };
  applyNotes();
  refresh();
})();
