// Node keys, the nodes file and CURVE/ZAP authentication.
#include <sys/stat.h>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "rpc/auth.hpp"

using namespace cbdc;

namespace {
auto temp_file(const std::string& name) -> std::filesystem::path {
  auto dir = std::filesystem::temp_directory_path() / "cbdc_auth_test";
  std::filesystem::create_directories(dir);
  auto p = dir / name;
  std::filesystem::remove(p);
  return p;
}
}  // namespace

TEST_CASE("node keys round-trip through their file, readable by the owner only", "[auth]") {
  const auto file = temp_file("node.key");
  const auto key = node_key::generate();
  REQUIRE(key.save(file).ok());
  struct stat st {};
  REQUIRE(::stat(file.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  auto loaded = node_key::load(file);
  REQUIRE(loaded.ok());
  CHECK(loaded->public_key == key.public_key);
  CHECK(loaded->secret_key == key.secret_key);

  SECTION("a file whose public key is not the secret's is refused") {
    auto other = node_key::generate();
    node_key mixed{other.public_key, key.secret_key};
    REQUIRE(mixed.save(file).ok());
    CHECK(node_key::load(file).code() == status_code::key_error);
  }
  SECTION("a missing file is io_error, another file key_error") {
    CHECK(node_key::load(temp_file("none")).code() == status_code::io_error);
    const auto junk = temp_file("junk");
    std::ofstream(junk) << "hello\n";
    CHECK(node_key::load(junk).code() == status_code::key_error);
  }
}

TEST_CASE("a nodes file is read strictly, with the line of each problem", "[auth]") {
  const auto a = node_key::generate().public_hex();
  const auto b = node_key::generate().public_hex();
  auto dir = node_directory::parse("# comment\n\nsettle shard " + a +
                                       " tcp://127.0.0.1:7100,tcp://127.0.0.1:7101\ncn-bank bank " +
                                       b + "\n",
                                   "nodes");
  REQUIRE(dir.ok());
  REQUIRE(dir->entries().size() == 2);
  CHECK(dir->by_endpoint("tcp://127.0.0.1:7100")->name == "settle");
  CHECK(dir->by_name("cn-bank")->r == role::bank);
  CHECK(dir->by_endpoint("tcp://127.0.0.1:7101")->name == "settle");
  CHECK(dir->by_endpoint("tcp://127.0.0.1:7102") == nullptr);

  const auto refused = [](const std::string& text, const std::string& expect) {
    auto r = node_directory::parse(text, "nodes");
    REQUIRE_FALSE(r.ok());
    CHECK(r.code() == status_code::parse_error);
    INFO(r.err().message);
    CHECK(r.err().message.find(expect) != std::string::npos);
  };
  refused("x wizard " + a + "\n", "nodes:1: unknown role wizard");
  refused("x customer " + a + "\n", "unknown role customer");
  refused("\nx bank 1234\n", "nodes:2: not a 32-byte hex public key");
  refused("x bank\n", "expected `name role public-key [endpoint]`");
  refused("x bank " + a + "\nx shard " + b + "\n", "the name x twice");
  refused("x bank " + a + "\ny shard " + a + "\n", "the key of y twice");
  refused("x bank " + a + " tcp://h:1\ny shard " + b + " tcp://h:2,tcp://h:1\n",
          "the endpoint tcp://h:1");
  refused("x bank " + a + " tcp://h:1,,tcp://h:2\n", "an empty endpoint");
}

TEST_CASE("operators are named after the node they operate", "[auth]") {
  const peer op{"cn-bank/ops", role::operator_, true};
  CHECK(op.operates("cn-bank"));
  CHECK_FALSE(op.operates("cn"));
  CHECK_FALSE(op.operates("hk-bank"));
  const peer self{"cn-bank", role::bank, true};
  CHECK(self.operates("cn-bank"));
  CHECK_FALSE(self.operates("hk-bank"));
  const peer other_bank{"hk-bank", role::bank, true};
  CHECK_FALSE(other_bank.operates("cn-bank"));
  const peer customer{"cn-bank", role::customer, true};
  CHECK_FALSE(customer.operates("cn-bank"));
  CHECK(peer{}.operates("anything"));  // authentication off

  CHECK(self.must_be("cn-bank", "bank_id").ok());
  CHECK(self.must_be("hk-bank", "bank_id").code() == status_code::not_authorized);
}

TEST_CASE("roles print by name and parse back", "[auth]") {
  for (const auto r : {role::shard, role::coordinator, role::issuer, role::bank, role::dealer,
                       role::pos, role::operator_, role::customer}) {
    CHECK(role_from_name(role_name(r)) == r);
  }
  CHECK_FALSE(role_from_name("root"));
  CHECK(role_set{role::bank, role::dealer}.names() == "bank|dealer");
}

TEST_CASE("a roster writes each node's key and the nodes file they share", "[auth]") {
  const auto dir = std::filesystem::temp_directory_path() / "cbdc_roster_test";
  std::filesystem::remove_all(dir);
  node_roster roster(dir);
  REQUIRE(roster.add("settle", role::shard, {"tcp://127.0.0.1:7100", "tcp://127.0.0.1:7101"}).ok());
  REQUIRE(roster.add("cn-bank/sim", role::operator_).ok());
  CHECK(roster.add("settle", role::bank).code() == status_code::bad_request);
  CHECK(roster.key_file("cn-bank/sim") == (dir / "cn-bank+sim.key").string());
  auto security = roster.security("cn-bank/sim");
  REQUIRE(security.ok());
  CHECK((*security)->self()->r == role::operator_);
  CHECK((*security)->directory()->by_endpoint("tcp://127.0.0.1:7101")->name == "settle");
  const auto flags = roster.flags("settle");
  REQUIRE(flags.size() == 4);
  CHECK(node_security::load(flags[1], flags[3]).ok());
}
