// The canonical transaction codec (docs/protocol.md): whatever decodes encodes to bytes that
// decode to the same transaction, and the id is computed over them.
#include "core/codec.hpp"
#include "core/assert.hpp"
#include "tests/fuzz/target.hpp"

CBDC_FUZZ_TARGET(codec) {
  using namespace cbdc;
  auto tx = decode_transaction(byte_view{data, size});
  if (!tx) {
    return;
  }
  const auto again = encode(*tx);
  auto round = decode_transaction(again);
  CBDC_ASSERT(round.ok());
  CBDC_ASSERT(encode(*round) == again);
  (void)tx_id_of(tx->prof, again);
  (void)shards_of(*tx, tx_id_of(tx->prof, again), 4);
}
