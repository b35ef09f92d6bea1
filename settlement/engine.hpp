#pragma once

// A shard's engine: verify workers, the batcher, the unspent registry, the committers and the
// two-phase-commit participant (engine.cpp, validate.cpp, registry.cpp, commit.cpp,
// participant.cpp).

#include <atomic>
#include <boost/unordered/unordered_flat_map.hpp>
#include <boost/unordered/unordered_flat_set.hpp>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "core/codec.hpp"
#include "platform/queue.hpp"
#include "rpc/transport.hpp"
#include "settlement/receipt.hpp"
#include "settlement/store.hpp"

namespace cbdc::settlement {

/// Hashes an id for the engine's tables: ids are uniform hashes already, so the table need not
/// mix the bits again.
struct id_hash {
  using is_avalanching = std::true_type;
  auto operator()(const hash256& id) const noexcept -> std::size_t {
    return std::hash<hash256>{}(id);
  }
};
/// An open-addressing table keyed by id (Boost's flat map: no allocation per entry, one probe
/// of a cache line in most lookups): the unspent set is looked up for every input and output.
template <typename T>
using id_map = boost::unordered_flat_map<hash256, T, id_hash>;
using id_set = boost::unordered_flat_set<hash256, id_hash>;

struct engine_config {
  profile prof{profile::ed25519};
  /// The issuer key of each currency whose issuance and redemption this deployment accepts.
  std::map<currency, public_key> issuers;
  std::uint32_t shard{0};
  std::uint32_t shard_count{1};        ///< shards own equal ranges of the token id's first byte
  std::string coordinator_endpoint;    ///< asked about in-doubt transactions at start
  socket_options net;                  ///< the node's identity, for asking the coordinator
  std::size_t max_batch{2000};         ///< transactions per database transaction, at most
  int batch_wait_ms{2};                ///< how long a batch waits to fill after its first arrival
  std::size_t queue_capacity{50'000};  ///< pending transactions before "overloaded"
  unsigned verify_threads{0};          ///< signature workers; 0 = one per core
  /// Batches committing at once, each on its own connection, so that PostgreSQL works on one
  /// batch while the next is checked and written. 0: commit on the batcher's thread.
  unsigned commit_threads{2};
  /// Fault injection (the simulator's "slow database"): a pause before every batch commit.
  int slow_commit_ms{0};
  /// Cross-shard parts prepared and not yet resolved, at most (below PostgreSQL's
  /// max_prepared_transactions, 64 in scripts/pg, which several shards may share); more
  /// answer overloaded.
  std::size_t max_prepared{32};
};

/// Checks what can be checked without the registry, signatures included: profile, amounts,
/// repeated inputs, the shape of each kind and, when `whole_on_this_shard`, that every token
/// lives on this shard (else wrong_shard). Pure; safe from any thread.
auto check_stateless(const signed_tx& tx, const engine_config& config,
                     bool whole_on_this_shard = true) -> status;

/// Given all the input tokens, checks value conservation per currency and that exactly the
/// right keys signed: the inputs' owners, plus the currency's issuer for issuance (alone) and
/// redemption. Pure; used by the shards (for a submission and for a prepared part) and by the
/// cross-shard coordinator. With `some_inputs` (a shard's part of a transaction whose other
/// inputs live elsewhere) the checks that need every input (value, signers owning no input
/// here) are left to the coordinator; every other one is made.
auto check_value_and_signers(const signed_tx& tx, const std::vector<token_info>& inputs,
                             const engine_config& config, bool some_inputs = false) -> status;

/// A two-phase-commit gid as the coordinator makes it ("cbdc-" and 32 hex digits); anything
/// else is refused before it reaches PostgreSQL. `legacy`: also the older form derived from
/// the transaction ("cbdc-<tx id hex>-<attempt>"), which parts prepared before may still carry.
auto valid_gid(const std::string& gid, bool legacy = false) -> bool;

/// The settlement pipeline of one shard: verify workers -> batcher -> one PostgreSQL transaction
/// per batch -> receipts, sent only after COMMIT returned. The unspent set lives in memory,
/// reloaded from PostgreSQL at start. The batcher also takes this shard's part in cross-shard
/// transactions (prepare, then commit or abort, on the coordinator's word).
class engine {
 public:
  using done_fn = std::function<void(const receipt&)>;
  /// Called after each committed batch with the accepted transactions (for notifications).
  using settled_fn = std::function<void(const std::vector<const signed_tx*>&, const receipt&)>;
  /// The answer to a prepare: the status and this shard's input tokens.
  using prepared_fn = std::function<void(const error&, const std::vector<token_info>&)>;
  using resolved_fn = std::function<void(const error&)>;

  using store_factory = std::function<result<std::unique_ptr<store>>()>;

  /// Resolves in-doubt prepared transactions (asking the coordinator), loads the unspent set and
  /// starts the threads, each with its own connection from open_store. Errors from the store,
  /// or unavailable when the coordinator cannot say.
  static auto start(engine_config config, const store_factory& open_store,
                    settled_fn on_settled = {}) -> result<std::unique_ptr<engine>>;
  ~engine();
  engine(const engine&) = delete;
  auto operator=(const engine&) -> engine& = delete;

  /// Queues a transaction; done is called exactly once, from an engine thread, with the
  /// receipt (overloaded at once when the queue is full).
  void submit(signed_tx tx, std::string client_request_id, done_fn done);
  /// This shard's part of a cross-shard transaction: hold its inputs, write its part and
  /// PREPARE TRANSACTION gid.
  void prepare(std::string gid, signed_tx tx, prepared_fn done);
  /// COMMIT PREPARED or ROLLBACK PREPARED gid. Idempotent.
  void resolve(std::string gid, bool commit, resolved_fn done);

  /// A key's unspent tokens, largest first (then by id), at most `limit`: those whose creating
  /// batch has committed, less those held by a batch or prepared transaction under way. Served
  /// from memory, from any thread (settlement.token has no index by owner: it was a fifth of
  /// PostgreSQL's work per payment, docs/benchmarks.md).
  [[nodiscard]] auto list_unspent(const public_key& owner, std::size_t limit)
      -> std::vector<token_info>;

  [[nodiscard]] auto unspent_count() const -> std::size_t { return m_unspent_count.load(); }
  /// The highest batch number given so far (its batch may still be committing), from any
  /// thread: nothing this shard wrote has a higher one.
  [[nodiscard]] auto last_batch_seq() const -> std::uint64_t { return m_batch_seq.load(); }
  void stop();

 private:
  enum class op : std::uint8_t { submit, prepare, resolve };
  struct pending {
    op what{op::submit};
    signed_tx tx;
    std::string client_request_id;  // for prepare and resolve: the gid
    bool commit{false};
    done_fn done;
    prepared_fn on_prepared;
    resolved_fn on_resolved;
    status verified{ok_status()};
  };
  /// A prepared cross-shard transaction's hold on this shard.
  struct reservation {
    signed_tx tx;
    std::vector<token_info> inputs;
    std::vector<std::uint32_t> outputs;  // indices of the outputs that live here
    std::uint64_t prepared_by{0};        // the ticket of the job that prepares it
  };
  /// An unspent token and the ticket of the job that writes it (0: committed before start).
  struct unspent_token {
    token_info info;
    std::uint64_t created_by_job{0};
  };

  /// A checked batch on its way to PostgreSQL: the accepted transactions, their receipts, and
  /// repeats of them within the batch, answered already_settled once the batch committed.
  struct commit_job {
    enum class kind : std::uint8_t { batch, prepare, finish } what{kind::batch};
    std::uint64_t seq{0};
    /// Its place in the order jobs are handed over, and the earlier jobs still committing that
    /// write what it spends (or the part it finishes): it commits only after them.
    std::uint64_t ticket{0};
    std::vector<std::uint64_t> after;
    std::vector<pending> accepted;
    std::vector<receipt> receipts;
    std::vector<commit_item> items;
    std::vector<pending> repeats;
    // prepare and finish: this shard's gid, the transaction and its local part
    std::string local_gid;
    signed_tx tx;
    std::vector<std::uint32_t> outputs;
    bool commit{false};
  };

  engine(engine_config config, std::unique_ptr<store> db, settled_fn on_settled);
  void commit_loop(store& db);
  void commit(store& db, commit_job& job);
  /// A batch whose commit failed: a statement PostgreSQL refused (the batch wrote nothing) is
  /// found by committing halves, down to the single payment, whose outcome is the error; a
  /// commit whose outcome is unknown (connection lost, in doubt) is looked up by its first
  /// transaction id once the database answers again, never resent blindly. outcome[i] is set
  /// for the items of [from, to) that did not commit.
  void commit_failed(store& db, commit_job& job, std::int64_t at, std::size_t from, std::size_t to,
                     error failed, std::vector<status>& outcome);
  /// Whether tx is in the ledger, asking until the database answers (unavailable once the
  /// engine stops first).
  auto landed(store& db, const hash256& tx_id) -> result<bool>;
  /// Gives back to memory what failed items had taken (their inputs, their supply) and takes
  /// out what they would have created. Batch thread only.
  void apply_unwinds();
  void commit_two_phase(store& db, commit_job& job);
  /// The ticket of the next job to be handed over.
  auto next_ticket() const -> std::uint64_t { return m_tickets_issued + 1; }
  /// Adds the job that wrote a token to the jobs that `job` waits for, unless it committed.
  void wait_for_creator(commit_job& job, std::uint64_t created_by_job) const;
  /// Hands a job to the commit threads (or runs it here when there are none).
  void hand_over(std::unique_ptr<commit_job> job);
  /// Waits until every batch handed to the commit threads has committed (before answering from
  /// the database what memory no longer knows).
  void drain();
  auto resolve_in_doubt() -> status;
  void enqueue(pending&& p);
  void refuse(pending& p, const error& err);
  void verify_loop();
  void batch_loop();
  void settle_batch(std::vector<pending>& batch);
  void do_prepare(pending& p);
  void do_resolve(pending& p);
  /// Collects the inputs (those on this shard when `local_only`) from the unspent set; a missing
  /// one gives the receipt's status (already_settled, input_spent, input_locked, input_unknown).
  /// `creators` receives the ticket of the job that writes each input.
  auto collect_inputs(const signed_tx& stx, bool local_only, const id_map<token_info>& spent_here,
                      std::vector<token_info>& inputs, std::vector<std::uint64_t>& creators)
      -> receipt;
  auto check_against_registry(pending& p, id_map<token_info>& spent_here,
                              std::vector<token_info>& inputs, std::vector<std::uint64_t>& creators)
      -> receipt;
  auto settled_before(const hash256& id) -> std::optional<receipt>;
  /// Adds what tx issues (its outputs here, `outputs`: every one when empty) or redeems
  /// (`inputs`) to m_supply, or refuses it (amount_invalid) when a total would overflow;
  /// `sign` -1 takes it back (an aborted part).
  auto count_supply(const signed_tx& tx, const std::vector<token_info>& inputs,
                    const std::vector<std::uint32_t>* outputs, int sign = 1) -> status;
  /// Adds output `index` of stx to the unspent set, written by the job with `ticket`.
  void add_unspent(const signed_tx& stx, std::uint32_t index, std::uint64_t ticket);
  /// The unspent set's only writers: they hold m_registry_mutex and keep m_by_owner.
  void put_unspent(const hash256& id, unspent_token t);
  void take_unspent(const hash256& id);
  /// Drops from an owner list the ids no longer unspent, and repeats. Under m_registry_mutex.
  void compact(std::vector<hash256>& ids) const;
  /// Compacts every owner list and drops the empty ones. Under m_registry_mutex.
  void sweep_owners();
  /// Marks a job's writes committed (before its answers go out) and wakes the jobs after it.
  void mark_committed(std::uint64_t ticket);
  void publish(const std::vector<const signed_tx*>& txs, const receipt& r);

  engine_config m_config;
  std::unique_ptr<store> m_db;
  settled_fn m_on_settled;
  bounded_queue<pending> m_incoming;
  bounded_queue<pending> m_verified;
  // Written only by the batch thread (and start), under m_registry_mutex, so that
  // list_unspent may read them from another thread; the batch thread reads them without it.
  std::mutex m_registry_mutex;
  id_map<unspent_token> m_unspent;
  /// Token ids by a 64-bit hash of their owner's key (owners whose hashes collide share a
  /// list; listing checks the owner). Ids are appended as tokens are created; spent ones stay
  /// until the list is compacted, when it is listed or outgrows its capacity, so a spend
  /// costs nothing here.
  boost::unordered_flat_map<std::uint64_t, std::vector<hash256>> m_by_owner;
  /// When m_by_owner has this many lists, the lists of owners who hold nothing are dropped
  /// (and the mark doubles from what is left): memory follows the owners holding tokens, not
  /// every key that ever received one.
  std::size_t m_owner_sweep_at{1024};
  /// Accepted payments whose commit failed, queued by the commit threads (before their job is
  /// marked committed) for the batch thread to take out of memory.
  struct unwind {
    signed_tx tx;
    std::vector<token_info> inputs;
  };
  std::mutex m_unwind_mutex;
  std::vector<unwind> m_unwinds;
  std::atomic<bool> m_has_unwinds{false};
  /// Outputs of failed payments, under m_registry_mutex: they never existed, so they are not
  /// listed, and a later payment that spent one in memory (and failed in turn) does not give
  /// it back. Filled by the commit threads, emptied by the batch thread when no job is in
  /// flight.
  id_set m_void;
  // Touched only by the batch thread:
  std::unordered_map<hash256, std::string> m_locked;  // token -> gid holding it
  std::map<std::string, reservation> m_reservations;
  /// Written by the batch thread only; atomic for last_batch_seq's readers.
  std::atomic<std::uint64_t> m_batch_seq{0};
  /// Issued and redeemed totals of this shard per currency, as written and being written (held
  /// prepared parts included): a transaction that would take one past 2^63-1 is refused
  /// before PostgreSQL's bigint would refuse its whole batch. Batch thread only.
  std::map<currency, std::pair<std::int64_t, std::int64_t>> m_supply;
  // The ticket of the last job handed over: written by the batch thread under m_jobs_mutex,
  // read by it without (it is the only writer) and by the commit threads under the mutex.
  std::uint64_t m_tickets_issued{0};
  std::atomic<std::size_t> m_unspent_count{0};
  std::vector<std::thread> m_verifiers;
  std::thread m_batcher;
  std::vector<std::unique_ptr<store>> m_commit_dbs;
  bounded_queue<std::unique_ptr<commit_job>> m_commits{2};
  std::vector<std::thread> m_committers;
  // Jobs handed to the commit threads and not yet committed, by ticket; every ticket up to
  // m_committed_through has committed. Guarded by m_jobs_mutex (m_committed_through is also
  // read without it by the batch thread: a stale value only adds a wait that is over at once).
  std::mutex m_jobs_mutex;
  std::condition_variable m_job_done;
  std::set<std::uint64_t> m_in_flight;
  std::atomic<std::uint64_t> m_committed_through{0};
  std::mutex m_publish_mutex;
  std::atomic<bool> m_stopped{false};
  std::vector<std::shared_ptr<void>> m_gauges;  ///< queue depths for /metrics; released first
};

}  // namespace cbdc::settlement
