// Uploads from the page: the same PUT a WebDAV client sends, with a progress bar per file
// (into a folder, or into the folder of a document request's item).
// The limits are checked here first for a quick answer; the server enforces them anyway.
// The size limit is shown as the server words it (data-max-size), the same as on the page.
(function () {
  "use strict";
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) { event.preventDefault(); }
    });
  });
  // A new password's length, in words, as it is typed; the server checks the rest (common, own name).
  document.querySelectorAll("input[data-strength]").forEach(function (input) {
    var out = document.getElementById(input.dataset.strength);
    var rules = out.textContent;
    input.addEventListener("input", function () {
      var missing = input.minLength - input.value.length;
      if (!input.value) { out.textContent = rules; }
      else if (missing > 0) { out.textContent = missing + " more character" + (missing === 1 ? "" : "s") + ", please."; }
      else if (missing > -6) { out.textContent = "Long enough. Longer is stronger."; }
      else { out.textContent = "Long: good."; }
    });
  });
  // New request: rows of items added and removed (without JavaScript, the form has blank rows enough).
  document.querySelectorAll("[data-add-row]").forEach(function (button) {
    var body = document.getElementById(button.dataset.addRow).tBodies[0];
    function removable(row) {
      var remove = row.querySelector("[data-remove-row]");
      remove.hidden = false;
      remove.addEventListener("click", function () {
        if (body.rows.length > 1) { row.remove(); } else { row.querySelectorAll("input").forEach(function (i) { i.value = ""; }); }
      });
    }
    Array.from(body.rows).forEach(removable);
    var next = body.rows.length;
    button.hidden = false;
    button.addEventListener("click", function () {
      var row = body.rows[body.rows.length - 1].cloneNode(true);
      row.querySelectorAll("input").forEach(function (input) {
        input.name = input.name.replace(/^item-\d+-/, "item-" + next + "-");
        input.value = "";
      });
      next += 1;
      body.append(row);
      removable(row);
      row.querySelector("input").focus();
    });
  });
  // Every upload zone on the page: a folder's, or each item of a document request.
  var pending = 0;  // uploads still running, on every zone: the page reloads once all are done
  document.querySelectorAll(".upload[data-url]").forEach(uploadZone);

  function uploadZone(zone) {
    var picker = zone.querySelector("input[type=file]");
    var list = zone.querySelector(".progress");
    var maxBytes = Number(zone.dataset.maxBytes);
    var types = zone.dataset.types ? zone.dataset.types.split(",") : [];

    function refusal(file) {
      var dot = file.name.lastIndexOf(".");
      var ext = dot > 0 ? file.name.slice(dot + 1).toLowerCase() : "";
      if (file.size > maxBytes) { return "too large (the limit is " + zone.dataset.maxSize + ")"; }
      if (types.length && types.indexOf(ext) < 0) {
        return (ext ? "'." + ext + "' files are" : "files without an extension are") + " not accepted here";
      }
      return "";
    }

    function upload(file) {
      var row = document.createElement("li");
      var label = document.createElement("span");
      label.textContent = file.name + " ";
      var bar = document.createElement("progress");
      bar.max = 100; bar.value = 0;
      var note = document.createElement("span");
      row.append(label, bar, note);
      list.append(row);
      var problem = refusal(file);
      if (problem) { bar.remove(); note.className = "error"; note.textContent = problem; return; }
      pending += 1;
      var request = new XMLHttpRequest();
      request.open("PUT", zone.dataset.url + encodeURIComponent(file.name));
      request.setRequestHeader("X-CSRF-Token", zone.dataset.csrf);
      request.upload.onprogress = function (event) {
        if (event.lengthComputable) { bar.value = Math.round(100 * event.loaded / event.total); }
      };
      request.onloadend = function () {
        pending -= 1;
        if (request.status >= 200 && request.status < 300) {
          bar.value = 100; note.textContent = " done"; row.className = "done";
          if (pending === 0) { window.setTimeout(function () { window.location.reload(); }, 600); }
        } else {
          note.className = "error";
          note.textContent = " " + (request.responseText || ("refused (" + request.status + ")")).trim();
        }
      };
      request.send(file);
    }

    picker.addEventListener("change", function () { Array.from(picker.files).forEach(upload); picker.value = ""; });
    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (event) { event.preventDefault(); zone.classList.add("over"); });
    });
    ["dragleave", "drop"].forEach(function (name) {
      zone.addEventListener(name, function (event) { event.preventDefault(); zone.classList.remove("over"); });
    });
    zone.addEventListener("drop", function (event) { Array.from(event.dataTransfer.files).forEach(upload); });
  }
}());
