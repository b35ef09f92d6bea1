// The bank's offline answers on the wire (bank/offline_wire.hpp).
#include "bank/offline_wire.hpp"

#include "offline/messages.hpp"

namespace cbdc::bank {
namespace {

template <typename Msg>
void set_status(Msg& m, const error& e) {
  m.set_status(static_cast<std::uint32_t>(e.code));
  m.set_detail(e.message);
}

template <typename Msg>
auto status_of(const Msg& m) -> status {
  if (m.status() != 0) {
    return error{static_cast<status_code>(m.status()), m.detail()};
  }
  return ok_status();
}

}  // namespace

auto to_wire(const result<device_issued>& r) -> wire::Envelope {
  wire::Envelope env;
  auto* m = env.mutable_device_issued();
  if (!r) {
    set_status(*m, r.err());
    return env;
  }
  offline::write(*m->mutable_cert(), r->cert);
  offline::write(*m->mutable_bank(), r->bank);
  m->set_central_bank_key(bytes_to_wire(r->central_bank.encode()));
  return env;
}

auto issued_from_wire(const wire::Envelope& env) -> result<device_issued> {
  const auto& m = env.device_issued();
  if (auto s = status_of(m); !s) {
    return s.err();
  }
  auto cert = offline::read(m.cert());
  auto bank = offline::read(m.bank());
  auto central = key_from_wire(m.central_bank_key());
  if (!cert || !bank || !central) {
    return error{status_code::malformed, "a DeviceIssued without its certificates"};
  }
  return device_issued{std::move(*cert), std::move(*bank), *central};
}

auto to_wire(const result<device_loaded>& r) -> wire::Envelope {
  wire::Envelope env;
  auto* m = env.mutable_device_loaded();
  if (!r) {
    *m->mutable_receipt() = settlement::to_wire(result<settlement::receipt>{r.err()});
    return env;
  }
  *m->mutable_receipt() = settlement::to_wire(r->receipt);
  for (const auto& v : r->vouchers) {
    offline::write(*m->add_vouchers(), v);
  }
  return env;
}

auto loaded_from_wire(const wire::Envelope& env) -> result<device_loaded> {
  const auto& m = env.device_loaded();
  auto receipt = settled_or_error(settlement::receipt_from_wire(m.receipt()));
  if (!receipt) {
    return receipt.err();
  }
  device_loaded out{*receipt, {}};
  for (const auto& w : m.vouchers()) {
    auto v = offline::read(w);
    if (!v) {
      return v.err();
    }
    out.vouchers.push_back(std::move(*v));
  }
  return out;
}

auto to_wire(const result<offline_submitted>& r) -> wire::Envelope {
  wire::Envelope env;
  auto* m = env.mutable_offline_submitted();
  if (!r) {
    set_status(*m, r.err());
    return env;
  }
  for (const auto& receipt : r->receipts) {
    *m->add_receipts() = settlement::to_wire(receipt);
  }
  for (const auto& v : r->vouchers) {
    offline::write(*m->add_vouchers(), v);
  }
  for (const auto& d : r->double_spends) {
    auto* w = m->add_double_spends();
    w->set_device_key(bytes_to_wire(d.evidence.device.encode()));
    w->set_token_id(id_to_wire(d.evidence.token_id));
    *w->mutable_settled() = cbdc::to_wire(d.settled);
    *w->mutable_refused() = cbdc::to_wire(d.refused);
    w->set_device_bank(d.device_bank);
    w->set_revoked(d.revoked);
  }
  return env;
}

auto submitted_from_wire(const wire::Envelope& env) -> result<offline_submitted> {
  const auto& m = env.offline_submitted();
  if (auto s = status_of(m); !s) {
    return s.err();
  }
  offline_submitted out;
  for (const auto& w : m.receipts()) {
    out.receipts.push_back(settled_or_error(settlement::receipt_from_wire(w)));
  }
  for (const auto& w : m.vouchers()) {
    auto v = offline::read(w);
    if (!v) {
      return v.err();
    }
    out.vouchers.push_back(std::move(*v));
  }
  for (const auto& w : m.double_spends()) {
    auto settled = cbdc::from_wire(w.settled());
    auto refused = cbdc::from_wire(w.refused());
    if (!settled || !refused) {
      return error{status_code::malformed, "a double spend's transfers"};
    }
    auto evidence = offline::evidence_of(*settled, *refused);
    if (!evidence) {
      return error{status_code::malformed, "a double spend that is not one"};
    }
    out.double_spends.push_back(
        double_spend_found{*evidence, *settled, *refused, w.device_bank(), w.revoked()});
  }
  return out;
}

auto to_wire(const result<revocation_sync>& r) -> wire::Envelope {
  wire::Envelope env;
  auto* m = env.mutable_revocations();
  if (!r) {
    set_status(*m, r.err());
    return env;
  }
  for (const auto& l : r->lists) {
    offline::write(*m->add_lists(), l);
  }
  for (const auto& b : r->banks) {
    offline::write(*m->add_banks(), b);
  }
  return env;
}

auto revocations_from_wire(const wire::Envelope& env) -> result<revocation_sync> {
  const auto& m = env.revocations();
  if (auto s = status_of(m); !s) {
    return s.err();
  }
  revocation_sync out;
  for (const auto& w : m.lists()) {
    auto l = offline::read(w);
    if (!l) {
      return l.err();
    }
    out.lists.push_back(std::move(*l));
  }
  for (const auto& w : m.banks()) {
    auto b = offline::read(w);
    if (!b) {
      return b.err();
    }
    out.banks.push_back(std::move(*b));
  }
  return out;
}

}  // namespace cbdc::bank
