// What every implementation of the bank's interface shares: a payment waited for, and a
// receipt that did not settle turned into its error.
#include "bank/interface.hpp"

#include <future>

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

auto settled_or_error(result<settlement::receipt> r) -> result<settlement::receipt> {
  if (r && !r->settled()) {
    return error{r->status, r->detail};
  }
  return r;
}

}  // namespace cbdc::bank
