// aip-builder console: follows a running job's events over Server-Sent
// Events and appends them to the page; when the job ends, the page reloads
// to show the result. EventSource reconnects by itself, sending the last
// event id, and the service resumes after it. Text is inserted as text.
(function () {
  "use strict";
  var table = document.getElementById("events");
  if (!table || !table.dataset.stream) {
    return;
  }
  var body = table.tBodies[0];
  var last = Number(table.dataset.last || 0);
  var source = new EventSource(table.dataset.stream);
  var describe = function (kind, data) {
    if (kind === "state") {
      return data.error ? data.state + ": " + data.error : data.state;
    }
    if (kind === "stage") {
      return data.stage + " " + (data.detail || "");
    }
    if (kind === "log") {
      return data.line;
    }
    if (kind === "warning") {
      return data.file + "#" + data.pointer + ": " + data.message + " [" + data.kind + "]";
    }
    return JSON.stringify(data);
  };
  var show = function (kind, message) {
    var event = JSON.parse(message.data);
    if (event.seq <= last) {
      return;
    }
    last = event.seq;
    var row = body.insertRow();
    var cells = [String(event.seq), new Date(event.at).toISOString(), kind, describe(kind, event.data)];
    cells.forEach(function (text, i) {
      var cell = row.insertCell();
      if (i === 3) {
        var code = document.createElement("code");
        code.textContent = text;
        cell.appendChild(code);
      } else {
        cell.textContent = text;
      }
    });
    if (kind === "state") {
      document.getElementById("job-state").textContent = event.data.state;
      if (["succeeded", "failed", "cancelled"].indexOf(event.data.state) >= 0) {
        source.close();
        window.location.reload();
      }
    }
  };
  ["state", "stage", "log", "warning"].forEach(function (kind) {
    source.addEventListener(kind, function (message) {
      show(kind, message);
    });
  });
})();
