// Drives the cbdc-pos merchant and payer pages in Debian's headless Chromium: a class II wallet
// pays a request and the merchant page turns to "Paid" with the amount; a request paid from a
// terminal (cbdc-wallet pay-request) does too; a class IV wallet over its per-payment cap is
// refused and the merchant page says why. Exit 0 when everything held.
//   POS_URL=http://127.0.0.1:PORT/ SCREENSHOT_DIR=DIR WALLET_BIN=... CAROL_DIR=...
//   SETTLE_EP=... BANK_EP=... node pos.spec.mjs
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chromium } from "playwright-core";

const base = process.env.POS_URL;
const shots = process.env.SCREENSHOT_DIR;
assert.ok(base && shots, "POS_URL and SCREENSHOT_DIR are needed");
const timeout = 20_000;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu"],
});
let failed = false;
try {
  const merchant = await browser.newPage({ viewport: { width: 1040, height: 900 } });
  merchant.setDefaultTimeout(timeout);
  await merchant.goto(base);
  await merchant.waitForFunction(() => document.body.dataset.live === "yes");

  // Request 128.50 from the till.
  const request = async (amount, reference) => {
    await merchant.fill("#amount", amount);
    await merchant.fill("#reference", reference);
    const before = (await merchant.textContent("#uri")).trim();
    await merchant.click("#create");
    // The new request, not the last one still on screen.
    await merchant.waitForFunction(
      (last) => !document.getElementById("request").classList.contains("hidden") &&
        document.getElementById("uri").textContent.trim() !== last, before);
    await merchant.waitForSelector("#status.waiting");
    const uri = (await merchant.textContent("#uri")).trim();
    assert.match(uri, /^cbdc:pay\?v=1&merchant=[0-9a-f]+&amount=/);
    assert.match(await merchant.textContent("#status"), /Waiting for payment/);
    return uri;
  };
  const uri = await request("128.50", "table 7");

  // The payer opens it on the phone-shaped page and pays from carol's class II wallet.
  const payer = await browser.newPage({ viewport: { width: 420, height: 800 } });
  payer.setDefaultTimeout(timeout);
  await payer.goto(`${base}payer?uri=${encodeURIComponent(uri)}`);
  await payer.waitForSelector("#payer option[value=carol]", { state: "attached" });
  await payer.selectOption("#payer", "carol");
  await payer.click("#check");
  await payer.waitForSelector("#details:not(.hidden)");
  assert.equal((await payer.textContent("#pay-amount")).trim(), "128.50 CNY");
  assert.match(await payer.textContent("#pay-ref"), /table 7/);
  await payer.screenshot({ path: `${shots}/pos-payer.png` });
  await payer.click("#pay");
  await payer.waitForSelector("#result-paid");

  // The merchant page learns it live, over the WebSocket.
  await merchant.waitForSelector("#paid-banner");
  assert.equal((await merchant.textContent("#paid-banner")).trim(), "Paid 128.50 CNY");
  assert.equal((await merchant.textContent("#paid-class")).trim(), "class II");
  assert.match(await merchant.textContent("#paid-tx"), /^[0-9a-f]{64}$/);
  await merchant.waitForFunction(
    () => document.getElementById("takings-total").textContent.startsWith("128.50"));
  await merchant.screenshot({ path: `${shots}/pos-merchant.png` });
  console.log("paid from the payer page: merchant page shows Paid 128.50 CNY, class II");

  // A request paid from a terminal: cbdc-wallet pay-request, through the bank.
  const cli = await request("36.00", "counter");
  execFileSync(process.env.WALLET_BIN, ["pay-request", "--dir", process.env.CAROL_DIR,
    "--settle", process.env.SETTLE_EP, "--bank", process.env.BANK_EP, "--nodes",
    process.env.NODES_FILE, "--uri", cli]);
  await merchant.waitForSelector("#paid-banner");
  assert.equal((await merchant.textContent("#paid-banner")).trim(), "Paid 36.00 CNY");
  await merchant.waitForFunction(
    () => document.getElementById("takings-total").textContent.startsWith("164.50"));
  console.log("paid from cbdc-wallet pay-request: merchant page shows Paid 36.00 CNY");

  // dave's class IV wallet may pay at most 2,000.00 at once: refused, and the till says why.
  const big = await request("2500.00", "big order");
  await payer.goto(`${base}payer?uri=${encodeURIComponent(big)}`);
  await payer.waitForSelector("#payer option[value=dave]", { state: "attached" });
  await payer.selectOption("#payer", "dave");
  await payer.click("#check");
  await payer.waitForSelector("#details:not(.hidden)");
  await payer.click("#pay");
  await payer.waitForSelector("#result-refused");
  assert.match(await payer.textContent("#result-reason"), /^per_payment_limit/);
  await merchant.waitForSelector("#refused-banner");
  assert.match(await merchant.textContent("#refused-reason"), /^per_payment_limit/);
  await merchant.screenshot({ path: `${shots}/pos-refused.png` });
  console.log("class IV over its cap: refused with per_payment_limit on both pages");
} catch (e) {
  failed = true;
  console.error(e);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
