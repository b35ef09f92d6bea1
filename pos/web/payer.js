// The payer page: pick a demo wallet, open a payment request, see it, pay it.
"use strict";

const $ = (id) => document.getElementById(id);

async function post(path, body) {
  const res = await fetch(path, {
    method: "POST",
    // The page's token: the till takes a POST only with it (and only as JSON, from its own
    // origin), so that no other page the browser opens can pay from the demo wallets.
    headers: {
      "content-type": "application/json",
      "x-cbdc-csrf": document.querySelector('meta[name="cbdc-csrf"]').content,
    },
    body: JSON.stringify(body),
  });
  return { ok: res.ok, body: await res.json() };
}

function show(kind, html) {
  const box = $("result");
  box.className = "status " + kind;
  box.innerHTML = html;
}

async function loadPayers() {
  const res = await fetch("/api/payers");
  const { payers } = await res.json();
  const select = $("payer");
  const chosen = select.value;
  select.innerHTML = "";
  for (const p of payers) {
    const o = document.createElement("option");
    o.value = p.name;
    o.textContent = `${p.name} (class ${p.class || "?"}, ${p.balance} CNY)`;
    select.appendChild(o);
  }
  if (chosen) select.value = chosen;
  const p = payers.find((x) => x.name === select.value);
  $("payer-info").textContent = p ? `balance ${p.balance} CNY, class ${p.class}` : "";
}

$("payer").addEventListener("change", loadPayers);

$("check").addEventListener("click", async () => {
  $("result").classList.add("hidden");
  const r = await post("/api/payer/inspect", { uri: $("uri").value.trim(), payer: $("payer").value });
  if (!r.ok) {
    $("details").classList.add("hidden");
    show("refused", `<span class="big">Cannot pay</span><span id="result-reason"></span>`);
    $("result-reason").textContent = `${r.body.status}: ${r.body.detail}`;
    return;
  }
  $("pay-amount").textContent = `${r.body.amount} ${r.body.currency}`;
  $("pay-ref").textContent = r.body.reference;
  $("pay-merchant").textContent = r.body.merchant.slice(0, 24) + "...";
  $("pay-balance").textContent = `${r.body.payer.balance} CNY`;
  $("details").classList.remove("hidden");
});

$("pay").addEventListener("click", async () => {
  $("pay").disabled = true;
  const r = await post("/api/payer/pay", { uri: $("uri").value.trim(), payer: $("payer").value });
  $("pay").disabled = false;
  if (r.ok) {
    show("paid", `<span class="big" id="result-paid">Paid</span><span class="mono">${r.body.tx_id}</span>`);
  } else {
    show("refused", `<span class="big" id="result-refused">Refused</span><span id="result-reason"></span>`);
    $("result-reason").textContent = `${r.body.status}: ${r.body.detail}`;
  }
  loadPayers();
});

const fromLink = new URLSearchParams(location.search).get("uri");
if (fromLink) $("uri").value = fromLink;
loadPayers();
