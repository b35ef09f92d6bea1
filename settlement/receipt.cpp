// Receipts, token records and supply totals, and their wire messages.
#include "settlement/receipt.hpp"

#include <algorithm>

namespace cbdc::settlement {

void order_as_listed(std::vector<token_info>& tokens, std::size_t limit) {
  std::sort(tokens.begin(), tokens.end(), [](const token_info& a, const token_info& b) {
    return a.amount_minor != b.amount_minor ? a.amount_minor > b.amount_minor
                                            : a.token_id < b.token_id;
  });
  if (tokens.size() > limit) {
    tokens.resize(limit);
  }
}

auto to_wire(const receipt& r) -> wire::Receipt {
  wire::Receipt msg;
  msg.set_status(static_cast<std::uint32_t>(r.status));
  msg.set_detail(r.detail);
  msg.set_tx_id(id_to_wire(r.tx_id));
  msg.set_shard(r.shard);
  msg.set_batch_seq(r.batch_seq);
  msg.set_settled_at_us(r.settled_at_us);
  return msg;
}

auto to_wire(const result<receipt>& r) -> wire::Receipt {
  if (r) {
    return to_wire(*r);
  }
  wire::Receipt msg;
  msg.set_status(static_cast<std::uint32_t>(r.code()));
  msg.set_detail(r.err().message);
  return msg;
}

auto receipt_from_wire(const wire::Receipt& msg) -> receipt {
  receipt r;
  r.status = static_cast<status_code>(msg.status());
  r.detail = msg.detail();
  if (auto id = id_from_wire(msg.tx_id())) {
    r.tx_id = *id;
  }
  r.shard = msg.shard();
  r.batch_seq = msg.batch_seq();
  r.settled_at_us = msg.settled_at_us();
  return r;
}

auto to_wire(const token_info& t) -> wire::TokenStatus {
  wire::TokenStatus msg;
  msg.set_status(static_cast<std::uint32_t>(status_code::ok));
  msg.set_token_id(id_to_wire(t.token_id));
  msg.set_currency(static_cast<std::uint32_t>(t.cur));
  msg.set_amount_minor(t.amount_minor);
  msg.set_owner(bytes_to_wire(t.owner.encode()));
  msg.set_spent(t.spent);
  msg.set_created_by(id_to_wire(t.created_by));
  if (t.spent) {
    msg.set_spent_by(id_to_wire(t.spent_by));
  }
  return msg;
}

auto token_from_wire(const wire::TokenStatus& msg) -> result<token_info> {
  token_info t;
  auto id = id_from_wire(msg.token_id());
  auto cur = currency_from_wire(msg.currency());
  const auto* raw = reinterpret_cast<const std::uint8_t*>(msg.owner().data());
  auto owner = public_key::decode(byte_view{raw, msg.owner().size()});
  auto created = id_from_wire(msg.created_by());
  if (!id || !cur || !owner || !created) {
    return error{status_code::malformed, "bad token status message"};
  }
  t.token_id = *id;
  t.cur = *cur;
  t.amount_minor = msg.amount_minor();
  t.owner = std::move(*owner);
  t.created_by = *created;
  t.spent = msg.spent();
  if (t.spent) {
    if (auto by = id_from_wire(msg.spent_by())) {
      t.spent_by = *by;
    }
  }
  return t;
}

}  // namespace cbdc::settlement
