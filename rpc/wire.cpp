// Conversions between the domain's types and their wire messages, and the envelope's checks.
#include "rpc/wire.hpp"

namespace cbdc {

auto to_wire(const signed_tx& tx) -> wire::SignedTx {
  wire::SignedTx msg;
  msg.set_body(bytes_to_wire(tx.body));
  for (const auto& s : tx.sigs) {
    auto* sig = msg.add_sigs();
    sig->set_signer(bytes_to_wire(s.signer.encode()));
    sig->set_sig(bytes_to_wire(s.sig));
  }
  return msg;
}

auto from_wire(const wire::SignedTx& msg) -> result<signed_tx> {
  const auto* data = reinterpret_cast<const std::uint8_t*>(msg.body().data());
  const byte_view body{data, msg.body().size()};
  auto tx = decode_transaction(body);
  if (!tx) {
    return tx.err();
  }
  signed_tx out;
  out.body.assign(body.begin(), body.end());
  out.id = tx_id_of(tx->prof, out.body);
  out.tx = std::move(*tx);
  if (msg.sigs_size() > static_cast<int>(k_max_inputs) + 1) {
    return error{status_code::too_large, std::to_string(msg.sigs_size()) + " signatures"};
  }
  for (const auto& s : msg.sigs()) {
    const auto* key_data = reinterpret_cast<const std::uint8_t*>(s.signer().data());
    auto key = public_key::decode(byte_view{key_data, s.signer().size()});
    if (!key) {
      return error{status_code::malformed, "signer: " + key.err().message};
    }
    if (key->prof != out.tx.prof) {
      return error{status_code::profile_mismatch,
                   "signature by a " + std::string{profile_name(key->prof)} + " key on a " +
                       std::string{profile_name(out.tx.prof)} + " transaction"};
    }
    out.sigs.push_back(tx_signature{std::move(*key), bytes(s.sig().begin(), s.sig().end())});
  }
  return out;
}

auto id_from_wire(const std::string& raw) -> result<hash256> {
  const auto* data = reinterpret_cast<const std::uint8_t*>(raw.data());
  auto id = hash256::from_bytes(byte_view{data, raw.size()});
  if (!id) {
    return error{status_code::malformed, id.err().message};
  }
  return id;
}

auto key_from_wire(const std::string& raw) -> result<public_key> {
  auto key =
      public_key::decode(byte_view{reinterpret_cast<const std::uint8_t*>(raw.data()), raw.size()});
  if (!key) {
    return error{status_code::malformed, key.err().message};
  }
  return key;
}

auto error_envelope(std::uint64_t request_id, const error& err) -> wire::Envelope {
  wire::Envelope env;
  env.set_version(k_protocol_version);
  env.set_request_id(request_id);
  env.mutable_error()->set_status(static_cast<std::uint32_t>(err.code));
  env.mutable_error()->set_detail(err.message);
  return env;
}

auto tx_record(const signed_tx& stx) -> std::string {
  std::string wire_bytes;
  CBDC_ASSERT(to_wire(stx).SerializeToString(&wire_bytes));
  return to_hex(
      byte_view{reinterpret_cast<const std::uint8_t*>(wire_bytes.data()), wire_bytes.size()});
}

auto tx_from_record(const std::string& hex) -> signed_tx {
  auto raw = from_hex(hex);
  CBDC_ASSERT(raw.ok());
  wire::SignedTx msg;
  CBDC_ASSERT(msg.ParseFromArray(raw->data(), static_cast<int>(raw->size())));
  auto stx = from_wire(msg);
  CBDC_ASSERT(stx.ok());
  return std::move(*stx);
}

auto answer_status(const wire::Envelope& env) -> error {
  const auto make = [](std::uint32_t code, const std::string& detail) {
    return error{static_cast<status_code>(code), detail};
  };
  switch (env.payload_case()) {
    case wire::Envelope::kError: return make(env.error().status(), env.error().detail());
    case wire::Envelope::kReceipt: return make(env.receipt().status(), env.receipt().detail());
    case wire::Envelope::kTxStatus: return make(env.tx_status().status(), "");
    case wire::Envelope::kTokenStatus: return make(env.token_status().status(), "");
    case wire::Envelope::kUnspentList: return make(env.unspent_list().status(), "");
    case wire::Envelope::kSupply: return make(env.supply().status(), "");
    case wire::Envelope::kPrepared: return make(env.prepared().status(), env.prepared().detail());
    case wire::Envelope::kResolved: return make(env.resolved().status(), env.resolved().detail());
    case wire::Envelope::kDecision: return make(env.decision().status(), "");
    case wire::Envelope::kRedeemResult:
      return make(env.redeem_result().status(), env.redeem_result().detail());
    case wire::Envelope::kReserveBalance:
      return make(env.reserve_balance().status(), env.reserve_balance().detail());
    case wire::Envelope::kWalletInfo:
      return make(env.wallet_info().status(), env.wallet_info().detail());
    case wire::Envelope::kBalance: return make(env.balance().status(), env.balance().detail());
    case wire::Envelope::kReceiveVerdict:
      return make(env.receive_verdict().status(), env.receive_verdict().detail());
    case wire::Envelope::kWalletsOpened:
      return make(env.wallets_opened().status(), env.wallets_opened().detail());
    case wire::Envelope::kBankInfo: return make(env.bank_info().status(), "");
    case wire::Envelope::kHistory: return make(env.history().status(), env.history().detail());
    case wire::Envelope::kMintResult:
      return make(env.mint_result().status(), env.mint_result().detail());
    case wire::Envelope::kClearance:
      return make(env.clearance().status(), env.clearance().detail());
    case wire::Envelope::kFxQuote: return make(env.fx_quote().status(), env.fx_quote().detail());
    case wire::Envelope::kTwoWay: return make(env.two_way().status(), env.two_way().detail());
    case wire::Envelope::kQuoteDeclined:
      return make(env.quote_declined().status(), env.quote_declined().detail());
    case wire::Envelope::kWalletsRegistered:
      return make(env.wallets_registered().status(), env.wallets_registered().detail());
    case wire::Envelope::kDeviceIssued:
      return make(env.device_issued().status(), env.device_issued().detail());
    case wire::Envelope::kDeviceLoaded:
      return make(env.device_loaded().receipt().status(), env.device_loaded().receipt().detail());
    case wire::Envelope::kOfflineSubmitted:
      return make(env.offline_submitted().status(), env.offline_submitted().detail());
    case wire::Envelope::kRevocations:
      return make(env.revocations().status(), env.revocations().detail());
    default: return error{status_code::malformed, "unexpected answer payload"};
  }
}

auto expect_payload(result<wire::Envelope> answer, wire::Envelope::PayloadCase want)
    -> result<wire::Envelope> {
  if (!answer || answer->payload_case() == want) {
    return answer;
  }
  auto err = answer_status(*answer);
  if (err.code == status_code::ok) {
    err = error{status_code::malformed, "unexpected answer"};
  }
  return err;
}

auto expect_ok(result<wire::Envelope> answer, wire::Envelope::PayloadCase want)
    -> result<wire::Envelope> {
  auto env = expect_payload(std::move(answer), want);
  if (!env) {
    return env;
  }
  if (auto refused = answer_status(*env); refused.code != status_code::ok) {
    return refused;
  }
  return env;
}

}  // namespace cbdc
