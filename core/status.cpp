// Status values: their names and which are transient.
#include "core/status.hpp"

namespace cbdc {

auto to_string(status_code code) -> std::string_view {
  switch (code) {
    case status_code::ok: return "ok";
    case status_code::already_settled: return "already_settled";
    case status_code::malformed: return "malformed";
    case status_code::too_large: return "too_large";
    case status_code::profile_mismatch: return "profile_mismatch";
    case status_code::amount_invalid: return "amount_invalid";
    case status_code::currency_mismatch: return "currency_mismatch";
    case status_code::duplicate_input: return "duplicate_input";
    case status_code::missing_signature: return "missing_signature";
    case status_code::bad_signature: return "bad_signature";
    case status_code::input_unknown: return "input_unknown";
    case status_code::input_spent: return "input_spent";
    case status_code::value_not_conserved: return "value_not_conserved";
    case status_code::overloaded: return "overloaded";
    case status_code::not_permitted: return "not_permitted";
    case status_code::wrong_shard: return "wrong_shard";
    case status_code::input_locked: return "input_locked";
    case status_code::parse_error: return "parse_error";
    case status_code::overflow: return "overflow";
    case status_code::unknown_currency: return "unknown_currency";
    case status_code::not_found: return "not_found";
    case status_code::io_error: return "io_error";
    case status_code::db_error: return "db_error";
    case status_code::timeout: return "timeout";
    case status_code::unavailable: return "unavailable";
    case status_code::key_error: return "key_error";
    case status_code::insufficient_funds: return "insufficient_funds";
    case status_code::not_authorized: return "not_authorized";
    case status_code::unknown_bank: return "unknown_bank";
    case status_code::not_domestic: return "not_domestic";
    case status_code::insufficient_reserve: return "insufficient_reserve";
    case status_code::quota_exceeded: return "quota_exceeded";
    case status_code::bad_request: return "bad_request";
    case status_code::unknown_wallet: return "unknown_wallet";
    case status_code::per_payment_limit: return "per_payment_limit";
    case status_code::daily_limit: return "daily_limit";
    case status_code::balance_limit: return "balance_limit";
    case status_code::request_expired: return "request_expired";
    case status_code::hosted_elsewhere: return "hosted_elsewhere";
    case status_code::quote_unknown: return "quote_unknown";
    case status_code::quote_expired: return "quote_expired";
    case status_code::corridor_cap_exceeded: return "corridor_cap_exceeded";
    case status_code::bank_cap_exceeded: return "bank_cap_exceeded";
    case status_code::no_quote: return "no_quote";
    case status_code::certificate_invalid: return "certificate_invalid";
    case status_code::certificate_expired: return "certificate_expired";
    case status_code::device_revoked: return "device_revoked";
    case status_code::counter_replay: return "counter_replay";
    case status_code::chain_invalid: return "chain_invalid";
    case status_code::offline_balance_cap: return "offline_balance_cap";
    case status_code::offline_payment_cap: return "offline_payment_cap";
    case status_code::offline_count_cap: return "offline_count_cap";
    case status_code::offline_sync_stale: return "offline_sync_stale";
    case status_code::double_spend: return "double_spend";
    case status_code::internal: return "internal";
  }
  return "unknown_status";
}

auto is_transient(status_code code) -> bool {
  return code == status_code::overloaded || code == status_code::input_locked ||
         code == status_code::timeout || code == status_code::unavailable ||
         code == status_code::db_error;
}

auto to_string(const error& err) -> std::string {
  std::string out{to_string(err.code)};
  if (!err.message.empty()) {
    out += ": ";
    out += err.message;
  }
  return out;
}

}  // namespace cbdc
