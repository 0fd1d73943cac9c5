/* Upload page: drag and drop, one XHR per file to POST /api/add-calls (the session
   cookie plus the X-CSRF-Token header), a progress bar each, then to the call. */
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

  function send(job) {
    var data = new FormData();
    data.append("source", "upload");
    ["customer_name", "user_id", "direction"].forEach(function (name) {
      var el = form.elements[name];
      if (el && el.value) data.append(name, el.value);
    });
    data.append("call", job.file, job.file.name);
    var xhr = new XMLHttpRequest();
    var bar = job.li.querySelector("progress");
    var state = job.li.querySelector(".state");
    xhr.open("POST", "/api/add-calls");
    xhr.setRequestHeader("X-CSRF-Token", window.callscribe.csrfToken());
    xhr.upload.onprogress = function (e) {
      if (!e.lengthComputable) return;
      var pct = Math.round((e.loaded / e.total) * 100);
      bar.value = pct;
      state.textContent = pct < 100 ? "Uploading " + pct + "%" : "Checking the recording…";
    };
    xhr.onload = function () {
      var body = {};
      try { body = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
      if (xhr.status === 200 || xhr.status === 201) {
        bar.value = 100;
        state.className = "state done";
        state.innerHTML = "";
        var a = document.createElement("a");
        a.href = "/calls/" + body.call_id;
        a.textContent = body.duplicate ? "Already uploaded: open the call" : "Uploaded: open the call";
        state.appendChild(a);
        results.push(body.call_id);
      } else {
        bar.classList.add("hidden");
        state.className = "state error";
        state.textContent = (body.error && body.error.message) || ("Upload failed (HTTP " + xhr.status + ")");
        results.push(null);
      }
      finish();
    };
    xhr.onerror = function () {
      state.className = "state error";
      state.textContent = "The connection broke off; try again.";
      results.push(null);
      finish();
    };
    xhr.send(data);
  }

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
