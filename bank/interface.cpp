// What every implementation of the bank's interface shares: a payment waited for, and a
// receipt that did not settle turned into its error.
#include "bank/interface.hpp"

#include <future>

namespace cbdc::bank {

auto interface::pay(const signed_tx& tx, const std::string& payee_bank)
    -> result<settlement::receipt> {
  std::promise<result<settlement::receipt>> answered;
  auto answer = answered.get_future();
  pay_async(tx, payee_bank,
            [&answered](result<settlement::receipt> r) { answered.set_value(std::move(r)); });
  return answer.get();
}

auto settled_or_error(result<settlement::receipt> r) -> result<settlement::receipt> {
  if (r && !r->settled()) {
    return error{r->status, r->detail};
  }
  return r;
}

}  // namespace cbdc::bank
