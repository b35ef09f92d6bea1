// What every implementation of the bank's interface shares: a payment waited for, a receipt
// that did not settle turned into its error, a device's transfers cut into batches.
#include "bank/interface.hpp"

#include <algorithm>
#include <future>
#include <set>

namespace cbdc::bank {

namespace {

/// Starts an asynchronous call and waits for the answer it hands its callback.
template <typename T, typename Start>
auto waited(Start start) -> result<T> {
  std::promise<result<T>> answered;
  auto answer = answered.get_future();
  start([&answered](result<T> r) { answered.set_value(std::move(r)); });
  return answer.get();
}

}  // namespace

auto interface::pay(const signed_tx& tx, const std::string& payee_bank)
    -> result<settlement::receipt> {
  return waited<settlement::receipt>(
      [&](receipt_fn done) { pay_async(tx, payee_bank, std::move(done)); });
}

auto interface::load_device(const signed_tx& tx) -> result<device_loaded> {
  return waited<device_loaded>([&](loaded_fn done) { load_device_async(tx, std::move(done)); });
}

auto interface::submit_offline(const offline_batch& batch) -> result<offline_submitted> {
  return waited<offline_submitted>(
      [&](submitted_fn done) { submit_offline_async(batch, std::move(done)); });
}

auto offline_batches(const std::vector<signed_tx>& txs,
                     const std::vector<offline::device_cert>& certs,
                     const std::vector<offline::bank_cert>& banks) -> std::vector<offline_batch> {
  std::vector<offline_batch> out;
  for (std::size_t from = 0; from < txs.size(); from += k_max_offline_batch) {
    auto& b = out.emplace_back();
    const auto to = std::min(txs.size(), from + k_max_offline_batch);
    b.txs.assign(txs.begin() + static_cast<std::ptrdiff_t>(from),
                 txs.begin() + static_cast<std::ptrdiff_t>(to));
    std::set<std::string> signers;
    for (const auto& tx : b.txs) {
      for (const auto& sig : tx.sigs) {
        signers.insert(sig.signer.hex());
      }
    }
    std::set<std::string> bank_ids;
    for (const auto& c : certs) {
      if (signers.contains(c.device.hex())) {
        b.certs.push_back(c);
        bank_ids.insert(c.bank_id);
      }
    }
    for (const auto& bank : banks) {
      if (bank_ids.contains(bank.bank_id)) {
        b.banks.push_back(bank);
      }
    }
  }
  return out;
}

auto settled_or_error(result<settlement::receipt> r) -> result<settlement::receipt> {
  if (r && !r->settled()) {
    return error{r->status, r->detail};
  }
  return r;
}

}  // namespace cbdc::bank
