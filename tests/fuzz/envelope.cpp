// Every request a service takes from the wire: the envelope, each payload's ids, keys and
// transactions as the services decode them, the customer signature check, and every service's
// role table for a caller of each role.
#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <array>

#include "bank/server.hpp"
#include "fx/server.hpp"
#include "issuer/issuer.hpp"
#include "issuer/server.hpp"
#include "rpc/auth.hpp"
#include "rpc/customer_auth.hpp"
#include "rpc/wire.hpp"
#include "settlement/coordinator.hpp"
#include "settlement/server.hpp"
#include "tests/fuzz/target.hpp"

namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

/// Decodes what the services decode from a message: a SignedTx as a transaction, bytes as an id
/// and as a key; then the message's own messages, recursively.
void decode_everything(const Message& msg) {
  if (const auto* stx = dynamic_cast<const cbdc::wire::SignedTx*>(&msg); stx != nullptr) {
    (void)cbdc::from_wire(*stx);
  }
  const auto* reflection = msg.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(msg, &fields);
  for (const auto* f : fields) {
    const int n = f->is_repeated() ? reflection->FieldSize(msg, f) : 1;
    for (int i = 0; i < n; ++i) {
      if (f->type() == FieldDescriptor::TYPE_MESSAGE) {
        decode_everything(f->is_repeated() ? reflection->GetRepeatedMessage(msg, f, i)
                                           : reflection->GetMessage(msg, f));
      } else if (f->type() == FieldDescriptor::TYPE_BYTES) {
        const auto raw = f->is_repeated() ? reflection->GetRepeatedString(msg, f, i)
                                          : reflection->GetString(msg, f);
        (void)cbdc::id_from_wire(raw);
        const auto* p = reinterpret_cast<const std::uint8_t*>(raw.data());
        (void)cbdc::public_key::decode(cbdc::byte_view{p, raw.size()});
      }
    }
  }
}

}  // namespace

CBDC_FUZZ_TARGET(envelope) {
  using namespace cbdc;
  wire::Envelope env;
  if (!env.ParseFromArray(data, static_cast<int>(size))) {
    return;
  }
  decode_everything(env);
  (void)payload_name(env);
  (void)answer_status(env);
  static const std::array<role_table, 5> tables{
      settlement::shard_roles(), settlement::coordinator_roles(), issuer::issuer_roles(),
      bank::bank_roles(), fx::dealer_roles()};
  for (const auto& table : tables) {
    for (const auto r : {role::shard, role::coordinator, role::issuer, role::bank, role::dealer,
                         role::pos, role::operator_, role::customer}) {
      (void)table.check(env, peer{"fuzz", r, true});
    }
  }
  static customer_verifier customers(60'000'000, 1'000);
  (void)customers.check(env, 1'764'547'200'000'000);
}
