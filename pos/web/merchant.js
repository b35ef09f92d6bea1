// The merchant page: make a signed payment request, show its QR code, follow it live.
"use strict";

let current = null;  // the request on screen

const $ = (id) => document.getElementById(id);
const time = (us) => new Date(us / 1000).toLocaleTimeString();

function showStatus(r) {
  const box = $("status");
  box.className = "status " + (r.state === "open" ? "waiting" : r.state);
  if (r.state === "open") {
    box.innerHTML = '<span class="big">Waiting for payment</span>' +
      `${r.amount} ${r.currency}, valid until ${new Date(r.expires_at_s * 1000).toLocaleTimeString()}`;
    return;
  }
  if (r.state === "paid") {
    box.innerHTML = `<span class="big" id="paid-banner">Paid ${r.amount} ${r.currency}</span>` +
      "<dl>" +
      `<dt>payer's wallet</dt><dd id="paid-class">class ${r.payer_class || "(another bank)"}</dd>` +
      `<dt>transaction</dt><dd id="paid-tx">${r.tx_id}</dd>` +
      `<dt>settled</dt><dd>${time(r.settled_us)}, ${(r.settle_ms / 1000).toFixed(2)} s after the request</dd>` +
      "</dl>";
    return;
  }
  const title = r.state === "expired" ? "Expired" : "Refused";
  box.innerHTML = `<span class="big" id="refused-banner">${title}</span><span id="refused-reason"></span>`;
  $("refused-reason").textContent = r.reason;
}

async function refreshTakings() {
  const res = await fetch("/api/takings");
  const t = await res.json();
  const body = $("takings");
  body.innerHTML = "";
  for (const p of t.payments) {
    const tr = document.createElement("tr");
    for (const [text, cls] of [[time(p.settled_us), ""], [p.reference, ""],
                               [p.payer_class || "-", ""], [p.amount, "num"]]) {
      const td = document.createElement("td");
      td.textContent = text;
      if (cls) td.className = cls;
      tr.appendChild(td);
    }
    body.appendChild(tr);
  }
  $("merchant-key").textContent = "merchant " + t.merchant.slice(0, 20) + "...";
  $("takings-count").textContent = t.count;
  $("takings-total").textContent = `${t.total} ${t.currency}`;
}

$("request-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  $("form-error").classList.add("hidden");
  $("request").classList.add("hidden");  // the last request goes; the new one shows below
  current = null;
  const res = await fetch("/api/requests", {
    method: "POST",
    // The page's token: the till takes a POST only with it (and only as JSON, from its own
    // origin), so that no other page the browser opens can make or pay requests.
    headers: {
      "content-type": "application/json",
      "x-cbdc-csrf": document.querySelector('meta[name="cbdc-csrf"]').content,
    },
    body: JSON.stringify({ amount: $("amount").value.trim(), reference: $("reference").value.trim() }),
  });
  const r = await res.json();
  if (!res.ok) {
    $("form-error").textContent = `${r.status}: ${r.detail}`;
    $("form-error").classList.remove("hidden");
    return;
  }
  current = r;
  $("qr").innerHTML = r.qr_svg;
  $("uri").textContent = r.uri;
  $("payer-link").href = "/payer?uri=" + encodeURIComponent(r.uri);
  $("request").classList.remove("hidden");
  showStatus(r);
});

function connect() {
  const ws = new WebSocket(`ws://${location.host}/ws`);
  ws.onopen = () => document.body.dataset.live = "yes";
  ws.onmessage = (m) => {
    const msg = JSON.parse(m.data);
    if (msg.type !== "request") return;
    if (current && msg.request.id === current.id) {
      current = msg.request;
      showStatus(current);
    }
    if (msg.request.state === "paid") refreshTakings();
  };
  ws.onclose = () => { document.body.dataset.live = "no"; setTimeout(connect, 1000); };
}

connect();
refreshTakings();
