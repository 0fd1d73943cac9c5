/* Upload page: drag and drop, each file through the tus endpoint /api/uploads/ (the
   session cookie plus the X-CSRF-Token header) so a dropped connection resumes, a
   progress bar each, the size limit checked before sending, then to the call. */
(function () {
  "use strict";
  var zone = document.getElementById("dropzone");
  var input = document.getElementById("files");
  var list = document.getElementById("upload-list");
  var form = document.getElementById("upload-form");
  var MAX_PARALLEL = 3;
  var queue = [];
  var running = 0;
  var results = [];
  var expected = 0;

  function human(bytes) {
    if (bytes < 1024 * 1024) return Math.max(1, Math.round(bytes / 1024)) + " KB";
    return (bytes / 1024 / 1024).toFixed(1) + " MB";
  }

  function addFiles(files) {
    Array.prototype.forEach.call(files, function (file) {
      var li = document.createElement("li");
      li.setAttribute("data-testid", "upload-item");
      li.innerHTML = '<div class="row"><strong class="name"></strong><span class="state">Waiting…</span></div>' +
        '<progress value="0" max="100"></progress>';
      li.querySelector(".name").textContent = file.name + " · " + human(file.size);
      list.appendChild(li);
      if (tooLarge(file)) {
        var state = li.querySelector(".state");
        li.querySelector("progress").classList.add("hidden");
        state.className = "state error";
        state.textContent = "Too large: " + human(file.size) + ", the limit is " + human(MAX_BYTES) + ". Nothing was sent.";
        return;
      }
      queue.push({ file: file, li: li });
      expected += 1;
    });
    pump();
  }

  function pump() {
    while (running < MAX_PARALLEL && queue.length) {
      running += 1;
      send(queue.shift());
    }
  }

  /* A small tus 1.0 client (creation + core) for /api/uploads/: the file goes up in
     CHUNK-sized PATCHes; after a dropped connection it asks HEAD for the server's offset
     and goes on from there. The upload's URL is kept in localStorage per file, so after
     a reload the same file picked again resumes instead of starting over. */
  var CHUNK = window.CALLSCRIBE_TUS_CHUNK || 8 * 1024 * 1024;
  var RETRIES = [1000, 2000, 4000, 8000, 15000];
  var MAX_BYTES = parseInt(form.getAttribute("data-max-bytes"), 10) || 0;

  function b64(text) {
    var bytes = new TextEncoder().encode(text);
    var bin = "";
    bytes.forEach(function (b) { bin += String.fromCharCode(b); });
    return btoa(bin);
  }

  function fingerprint(file) {
    return "callscribe-tus:" + [file.name, file.size, file.lastModified].join(":");
  }

  function tusRequest(method, url, headers, body, onProgress) {
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      xhr.open(method, url);
      xhr.setRequestHeader("Tus-Resumable", "1.0.0");
      xhr.setRequestHeader("X-CSRF-Token", window.callscribe.csrfToken());
      Object.keys(headers || {}).forEach(function (k) { xhr.setRequestHeader(k, headers[k]); });
      if (onProgress) xhr.upload.onprogress = onProgress;
      xhr.onload = function () { resolve(xhr); };
      xhr.onerror = function () { reject(new Error("network")); };
      xhr.onabort = function () { reject(new Error("network")); };
      xhr.send(body === undefined ? null : body);
    });
  }

  function errorOf(xhr) {
    try {
      var body = JSON.parse(xhr.responseText);
      if (body.error && body.error.message) return body.error.message;
    } catch (e) { /* not JSON */ }
    return "Upload failed (HTTP " + xhr.status + ")";
  }

  function metadata(file) {
    var pairs = [["filename", file.name], ["source", "upload"]];
    if (file.type) pairs.push(["filetype", file.type]);
    ["customer_name", "user_id", "direction"].forEach(function (name) {
      var el = form.elements[name];
      if (el && el.value) pairs.push([name, el.value]);
    });
    return pairs.map(function (p) { return p[0] + " " + b64(p[1]); }).join(",");
  }

  function create(file) {
    return tusRequest("POST", "/api/uploads/", {
      "Upload-Length": String(file.size),
      "Upload-Metadata": metadata(file),
    }).then(function (xhr) {
      if (xhr.status !== 201) throw { fatal: errorOf(xhr) };
      var url = new URL(xhr.getResponseHeader("Location"), window.location.href).pathname;
      try { localStorage.setItem(fingerprint(file), url); } catch (e) { /* private mode */ }
      return { url: url, offset: 0 };
    });
  }

  /* the server's offset for a stored upload URL; null when it is gone or finished */
  function resume(file, url) {
    return tusRequest("HEAD", url).then(function (xhr) {
      if (xhr.status !== 200) return null;
      var callId = xhr.getResponseHeader("Callscribe-Call-Id");
      var offset = parseInt(xhr.getResponseHeader("Upload-Offset"), 10);
      if (callId) return { url: url, offset: file.size, callId: callId };
      if (xhr.getResponseHeader("Callscribe-Upload-Status") !== "open" || isNaN(offset)) return null;
      return { url: url, offset: offset };
    });
  }

  function send(job) {
    var file = job.file;
    var bar = job.li.querySelector("progress");
    var state = job.li.querySelector(".state");
    var attempt = 0;

    function show(offset, extra) {
      var pct = file.size ? Math.floor((offset / file.size) * 100) : 100;
      bar.value = pct;
      state.textContent = pct < 100 ? "Uploading " + pct + "%" + (extra || "") : "Checking the recording…";
    }

    function patch(upload) {
      if (upload.callId) return Promise.resolve(upload.callId);
      var end = Math.min(upload.offset + CHUNK, file.size);
      return tusRequest("PATCH", upload.url, {
        "Upload-Offset": String(upload.offset),
        "Content-Type": "application/offset+octet-stream",
      }, file.slice(upload.offset, end), function (e) {
        show(upload.offset + e.loaded);
      }).then(function (xhr) {
        if (xhr.status === 204) {
          attempt = 0;
          upload.offset = parseInt(xhr.getResponseHeader("Upload-Offset"), 10);
          show(upload.offset);
          var callId = xhr.getResponseHeader("Callscribe-Call-Id");
          if (callId) return callId;
          return patch(upload);
        }
        if (xhr.status === 409 || xhr.status >= 500) throw new Error("retry");
        throw { fatal: errorOf(xhr) };
      });
    }

    function run(upload) {
      return patch(upload).catch(function (err) {
        if (err && err.fatal) throw err;
        if (attempt >= RETRIES.length) throw { fatal: "The connection kept breaking off; pick the file again to resume." };
        var wait = RETRIES[attempt++];
        show(upload.offset, " · connection lost, resuming…");
        return new Promise(function (r) { setTimeout(r, wait); })
          .then(function () { return resume(file, upload.url); })
          .then(function (fresh) {
            if (!fresh) throw { fatal: "The upload expired on the server; pick the file again." };
            upload.offset = fresh.offset;
            upload.callId = fresh.callId;
            return run(upload);
          }, function () { return run(upload); });
      });
    }

    var stored = null;
    try { stored = localStorage.getItem(fingerprint(file)); } catch (e) { /* private mode */ }
    (stored ? resume(file, stored).catch(function () { return null; }) : Promise.resolve(null))
      .then(function (found) { return found || create(file); })
      .then(function (upload) { show(upload.offset); return run(upload); })
      .then(function (callId) {
        try { localStorage.removeItem(fingerprint(file)); } catch (e) { /* private mode */ }
        bar.value = 100;
        state.className = "state done";
        state.innerHTML = "";
        var a = document.createElement("a");
        a.href = "/calls/" + callId;
        a.textContent = "Uploaded: open the call";
        state.appendChild(a);
        results.push(callId);
        finish();
      }, function (err) {
        if (err && err.fatal) {
          try { localStorage.removeItem(fingerprint(file)); } catch (e) { /* private mode */ }
        }
        bar.classList.add("hidden");
        state.className = "state error";
        state.textContent = (err && err.fatal) || "The connection broke off; try again.";
        results.push(null);
        finish();
      });
  }

  /* refused here, before a byte is sent, when over the server's limit */
  function tooLarge(file) {
    return MAX_BYTES > 0 && file.size > MAX_BYTES;
  }

  /* leaving the page mid-upload loses the rest (until the same file is picked again) */
  window.addEventListener("beforeunload", function (e) {
    if (running > 0 || queue.length > 0) {
      e.preventDefault();
      e.returnValue = "";
    }
  });

  function finish() {
    running -= 1;
    pump();
    if (results.length !== expected || running > 0) return;
    var ok = results.filter(Boolean);
    if (expected === 1 && ok.length === 1) {
      window.location.href = "/calls/" + ok[0];
    } else if (ok.length) {
      document.getElementById("upload-done").classList.remove("hidden");
    }
  }

  ["dragenter", "dragover"].forEach(function (name) {
    zone.addEventListener(name, function (e) { e.preventDefault(); zone.classList.add("dragover"); });
  });
  ["dragleave", "drop"].forEach(function (name) {
    zone.addEventListener(name, function (e) { e.preventDefault(); zone.classList.remove("dragover"); });
  });
  zone.addEventListener("drop", function (e) {
    if (e.dataTransfer && e.dataTransfer.files.length) addFiles(e.dataTransfer.files);
  });
  form.addEventListener("submit", function (e) { e.preventDefault(); });
  input.addEventListener("change", function () {
    if (input.files.length) addFiles(input.files);
    input.value = "";
  });
})();
