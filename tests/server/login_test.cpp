// tests/server/login_test.cpp — the login of issue 13 without sockets (Login on an injected clock
// and a RocksDB registry in a temp folder): each mode's refusals with their reasons and counters,
// observers and the admin credential, per-address limits, ids that persist across a reopen of the
// registry and cannot be exhausted by failed attempts; the login body and accounts file parsers
// (hostile inputs, and a property: any bytes give a value or an error); the config checks of
// dev mode; and a deferred HTTP route answered from another thread over a real socket.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>
#include <sodium.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <future>
#include <thread>

#include "server/accounts.h"
#include "server/config.h"
#include "server/http.h"
#include "server/login.h"
#include "server/login_body.h"
#include "server/login_http.h"
#include "server/ticket.h"
#include "storage/account_registry.h"

namespace strata::server {
namespace {

constexpr uint64_t t0_us = 1'800'000'000ULL * 1'000'000;  // an arbitrary unix time
const std::string admin_token = "an-admin-token-of-some-length";

class TempDir {
 public:
  TempDir() {
    static int counter = 0;
    path_ = std::filesystem::temp_directory_path() /
            ("strata-login-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  [[nodiscard]] std::string str() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

std::unique_ptr<storage::RocksAccountRegistry> open_registry(const TempDir& dir, uint32_t ids_max = 1000) {
  std::string error;
  auto registry = storage::RocksAccountRegistry::open(dir.str(), ids_max, false, error);
  EXPECT_NE(registry, nullptr) << error;
  return registry;
}

LoginConfig base_config(AuthMode mode) {
  LoginConfig config;
  config.protocol_id = 42;
  config.private_key = net::random_key();
  config.server_addresses = {net::make_ipv4(127, 0, 0, 1, 27500)};
  config.mode = mode;
  config.admin_token = admin_token;
  return config;
}

struct Attempt {
  Attempt(std::string body_in, std::string address_in = "127.0.0.1", std::string authorization_in = "",
          bool admin_in = false, uint64_t now_us_in = t0_us)
      : body(std::move(body_in)),
        address(std::move(address_in)),
        authorization(std::move(authorization_in)),
        admin(admin_in),
        now_us(now_us_in) {}
  std::string body;
  std::string address;
  std::string authorization;
  bool admin;
  uint64_t now_us;
};

LoginResult attempt(Login& login, const Attempt& a) {
  LoginRequest request;
  request.body = a.body;
  request.address = a.address;
  request.authorization = a.authorization;
  request.admin_listener = a.admin;
  request.now_us = a.now_us;
  return login.login(request);
}

// Built with append (GCC 12 warns falsely, -Wrestrict, about operator+ chains of temporaries here).
std::string ticket_body(const std::string& ticket, const std::string& name = "") {
  std::string out = "{";
  if (!name.empty()) {
    out += "\"name\":\"";
    out += name;
    out += "\",";
  }
  out += "\"ticket\":\"";
  out += ticket;
  out += "\"}";
  return out;
}

uint64_t counted(const Login& login, LoginReason reason) { return login.counters()[static_cast<size_t>(reason)]; }

class LoginTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_GE(sodium_init(), 0); }
  TempDir dir_;
};

// --- The login body parser -------------------------------------------------------------------

TEST(LoginBody, ParsesTheMembers) {
  auto parsed = parse_login_body(R"( {"name":"alice", "password":"p\"w\\d\u00e9", "role":"observer"} )");
  ASSERT_TRUE(parsed.body) << parsed.error;
  EXPECT_EQ(*parsed.body->name, "alice");
  EXPECT_EQ(*parsed.body->password, "p\"w\\d\xc3\xa9");
  EXPECT_EQ(*parsed.body->role, "observer");
  EXPECT_FALSE(parsed.body->ticket);
  EXPECT_TRUE(parse_login_body("{}").body);
  EXPECT_EQ(*parse_login_body(R"({"name":"\ud83d\ude00"})").body->name, "\xf0\x9f\x98\x80");  // a surrogate pair
}

TEST(LoginBody, RefusesHostileBodiesWithAFixedMessage) {
  const std::string long_name = "{\"name\":\"" + std::string(5000, 'a') + "\"}";
  const std::vector<std::string> hostile = {
      R"({"name":"al"ice"})",                  // a quote inside
      R"({"name":"al\u0000ice"})",             // an escaped NUL
      std::string("{\"name\":\"a\0b\"}", 13),  // a raw NUL
      long_name,                               // 5,000 bytes
      "{\"name\":\"\xff\xfe\"}",               // invalid UTF-8
      "{\"name\":\"\xc0\xaf\"}",               // an overlong '/'
      "{\"name\":\"\xed\xa0\x80\"}",           // an encoded surrogate
      "{\"name\":\"\xf0\x9f\x98\"}",           // a truncated emoji
      R"({"name":"\ud83d"})",                  // a lone surrogate escape
      R"({"name":"a","name":"b"})",            // a repeated member
      R"({"nickname":"a"})",                   // an unknown member
      R"({"name":["a"]})",                     // a non-string value
      R"({"name":{"name":"a"}})",              // nesting
      R"({"name":"a"} trailing)",              // bytes after the object
      R"({"name":"a")",                        // unterminated
      "name=alice",                            // a form body
      "",
      std::string(login_body_bytes_max + 1, ' '),
  };
  for (const std::string& body : hostile) {
    const auto parsed = parse_login_body(body);
    EXPECT_FALSE(parsed.body) << body.substr(0, 40);
    const std::string message = parsed.error;
    EXPECT_FALSE(message.empty());
    EXPECT_EQ(message.find("alice"), std::string::npos);  // never echoes the input
  }
}

RC_GTEST_PROP(LoginBody, AnyBytesGiveABodyOrAnError, (const std::string& bytes)) {
  const auto parsed = parse_login_body(bytes);
  RC_ASSERT(parsed.body.has_value() == (std::string_view(parsed.error).empty()));
  if (parsed.body && parsed.body->name) RC_ASSERT(parsed.body->name->size() <= login_field_bytes_max);
}

// --- The accounts file -----------------------------------------------------------------------

TEST(AccountsFile, ParsesAndRefusesByLine) {
  const std::string hash = "$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA";
  auto parsed = parse_accounts_file("# accounts\n\nalice " + hash + "\r\nbob " + hash + "\n");
  ASSERT_TRUE(parsed.file) << parsed.error;
  EXPECT_EQ(parsed.file->hashes.size(), 2U);
  EXPECT_EQ(parsed.file->hashes.at("alice"), hash);
  EXPECT_EQ(parse_accounts_file("alice " + hash + "\nalice " + hash).error, "line 2: the name appears twice");
  EXPECT_EQ(parse_accounts_file("al ice " + hash).error,
            "line 1: the hash is not a crypto_pwhash_str string ($argon2id$...)");
  EXPECT_EQ(parse_accounts_file("al\"ice " + hash).error,
            "line 1: the name is not 1 to 32 characters of A-Z a-z 0-9 _ -");
  EXPECT_EQ(parse_accounts_file("alice plaintext").error,
            "line 1: the hash is not a crypto_pwhash_str string ($argon2id$...)");
  EXPECT_EQ(parse_accounts_file("alice").error, "line 1: expected '<name> <hash>'");
  EXPECT_FALSE(parse_accounts_file(std::string(accounts_line_bytes_max + 1, 'a')).file);
}

RC_GTEST_PROP(AccountsFile, AnyBytesGiveAFileOrAnError, (const std::string& bytes)) {
  const auto parsed = parse_accounts_file(bytes);
  RC_ASSERT(parsed.file.has_value() == parsed.error.empty());
}

// --- The registry ----------------------------------------------------------------------------

TEST_F(LoginTest, RegistryIdsPersistAcrossAReopen) {
  {
    auto registry = open_registry(dir_);
    EXPECT_EQ(registry->bind("alice", true).player, 1U);
    EXPECT_EQ(registry->bind("bob", true).player, 2U);
    EXPECT_EQ(registry->bind("carol", false).status, storage::Binding::Status::not_found);
  }
  auto registry = open_registry(dir_);  // a restart: the ids come back, whatever the arrival order
  EXPECT_EQ(registry->bind("bob", false).player, 2U);
  EXPECT_EQ(registry->bind("bob", true).status, storage::Binding::Status::existing);
  EXPECT_EQ(registry->bind("carol", true).player, 3U);  // a new name never reuses an id
  EXPECT_EQ(registry->bind("alice", true).player, 1U);
  EXPECT_EQ(registry->size(), 3U);
}

TEST_F(LoginTest, RegistryRefusesWhenEveryIdIsTaken) {
  auto registry = open_registry(dir_, 2);
  EXPECT_EQ(registry->bind("a", true).status, storage::Binding::Status::created);
  EXPECT_EQ(registry->bind("b", true).status, storage::Binding::Status::created);
  EXPECT_EQ(registry->bind("c", true).status, storage::Binding::Status::full);
  EXPECT_EQ(registry->bind("a", true).status, storage::Binding::Status::existing);
}

// --- Dev mode --------------------------------------------------------------------------------

TEST_F(LoginTest, DevModeLogsInAnyValidNameAndTheNewerLoginWins) {
  auto registry = open_registry(dir_);
  Login login(base_config(AuthMode::dev), *registry, net::os_random());
  const auto first = attempt(login, {R"({"name":"alice"})"});
  ASSERT_EQ(first.reason, LoginReason::ok);
  EXPECT_EQ(first.player, 1U);
  // A second login of the same (online) player: a new token for the same id (the node then kicks
  // the older session when the newer connects).
  const auto second = attempt(login, {R"({"name":"alice"})", "127.0.0.1", "", false, t0_us + 1'000'000});
  ASSERT_EQ(second.reason, LoginReason::ok);
  EXPECT_EQ(second.player, 1U);
  EXPECT_NE(first.token, second.token);
  EXPECT_EQ(attempt(login, {R"({"name":"bad name"})"}).reason, LoginReason::bad_name);
  EXPECT_EQ(attempt(login, {R"({"name":"alice"})", "10.0.0.7"}).reason, LoginReason::dev_not_loopback);
  EXPECT_EQ(counted(login, LoginReason::ok), 2U);
  EXPECT_EQ(counted(login, LoginReason::dev_not_loopback), 1U);
}

TEST_F(LoginTest, DevModeCapsNewNamesPerAddressAndInTotal) {
  auto registry = open_registry(dir_);
  LoginConfig config = base_config(AuthMode::dev);
  config.dev_new_names_per_address_per_min = 3;
  config.dev_names_max = 5;
  Login login(config, *registry, net::os_random());
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(attempt(login, {R"({"name":"n)" + std::to_string(i) + R"("})"}).reason, LoginReason::ok);
  EXPECT_EQ(attempt(login, {R"({"name":"n3"})"}).reason, LoginReason::new_names_limited);
  EXPECT_EQ(attempt(login, {R"({"name":"n0"})"}).reason, LoginReason::ok);               // a known name is not new
  EXPECT_EQ(attempt(login, {R"({"name":"n3"})", "127.0.0.2"}).reason, LoginReason::ok);  // another address
  // A minute later the address may make new names again, up to the total.
  EXPECT_EQ(attempt(login, {R"({"name":"n4"})", "127.0.0.1", "", false, t0_us + 60'000'000}).reason, LoginReason::ok);
  EXPECT_EQ(attempt(login, {R"({"name":"n5"})", "127.0.0.1", "", false, t0_us + 60'000'000}).reason,
            LoginReason::names_full);
  EXPECT_EQ(registry->size(), 5U);
  EXPECT_EQ(counted(login, LoginReason::new_names_limited), 1U);
  EXPECT_EQ(counted(login, LoginReason::names_full), 1U);
}

TEST_F(LoginTest, FailedAttemptsNeverTakeAnId) {
  auto registry = open_registry(dir_, 3);
  LoginConfig config = base_config(AuthMode::ticket);
  config.ticket_key = TicketKey{};
  randombytes_buf(config.ticket_key->data(), config.ticket_key->size());
  config.attempts_per_address_per_s = 1'000'000;
  config.attempts_burst_per_address = 1'000'000;
  TicketKey other{};
  Login login(config, *registry, net::os_random());
  for (int i = 0; i < 20'000; ++i) {  // forged tickets, hostile names, observers without the credential
    std::string name = "m";
    name += std::to_string(i);
    std::string observer = "{\"role\":\"observer\",\"name\":\"";
    observer += name;
    observer += "\"}";
    ASSERT_NE(attempt(login, {ticket_body(mint_ticket(other, name, t0_us / 1'000'000, 60, net::os_random()))}).reason,
              LoginReason::ok);
    ASSERT_NE(attempt(login, {observer, "127.0.0.1", "", true}).reason, LoginReason::ok);
  }
  EXPECT_EQ(registry->size(), 0U);
  const auto ok =
      attempt(login, {ticket_body(mint_ticket(*config.ticket_key, "real", t0_us / 1'000'000, 60, net::os_random()))});
  ASSERT_EQ(ok.reason, LoginReason::ok);
  EXPECT_EQ(ok.player, 1U);
  EXPECT_EQ(counted(login, LoginReason::forged_ticket), 20'000U);
  EXPECT_EQ(counted(login, LoginReason::observer_needs_admin), 20'000U);
}

// --- Static mode -----------------------------------------------------------------------------

TEST_F(LoginTest, StaticModeChecksThePassword) {
  auto registry = open_registry(dir_);
  LoginConfig config = base_config(AuthMode::static_accounts);
  auto accounts = std::make_shared<AccountsFile>();
  accounts->hashes["alice"] = hash_password("correct horse");
  ASSERT_FALSE(accounts->hashes["alice"].empty());
  config.accounts = accounts;
  Login login(config, *registry, net::os_random());
  EXPECT_EQ(attempt(login, {R"({"name":"alice","password":"wrong horse"})"}).reason, LoginReason::wrong_password);
  EXPECT_EQ(attempt(login, {R"({"name":"mallory","password":"correct horse"})"}).reason, LoginReason::wrong_password);
  EXPECT_EQ(attempt(login, {R"({"name":"alice"})"}).reason, LoginReason::missing_credential);
  EXPECT_EQ(
      attempt(login, {"{\"name\":\"alice\",\"password\":\"" + std::string(password_bytes_max + 1, 'x') + "\"}"}).reason,
      LoginReason::wrong_password);
  EXPECT_EQ(registry->size(), 0U);  // no id for a refused login
  const auto ok = attempt(login, {R"({"name":"alice","password":"correct horse"})"});
  ASSERT_EQ(ok.reason, LoginReason::ok);
  EXPECT_EQ(ok.player, 1U);
  EXPECT_FALSE(ok.observer);
  EXPECT_EQ(counted(login, LoginReason::wrong_password), 3U);
  EXPECT_EQ(login_status(LoginReason::wrong_password), 401);
}

// Submits `count` logins at once (from `addresses` in turn) and waits for every answer.
std::vector<LoginReason> submit_all(Login& login, const std::string& body, const std::vector<std::string>& addresses,
                                    int count, std::vector<bool>* on_caller = nullptr) {
  std::mutex mutex;
  std::vector<LoginReason> answers;
  std::promise<void> all;
  const auto caller = std::this_thread::get_id();
  for (int i = 0; i < count; ++i) {
    LoginRequest request;
    request.body = body;
    request.address = addresses[static_cast<size_t>(i) % addresses.size()];
    request.now_us = t0_us;
    login.submit(request, [&, caller](LoginResult result) {
      std::lock_guard lock(mutex);
      answers.push_back(result.reason);
      if (on_caller) on_caller->push_back(std::this_thread::get_id() == caller);
      if (answers.size() == static_cast<size_t>(count)) all.set_value();
    });
  }
  all.get_future().wait();
  return answers;
}

TEST_F(LoginTest, PasswordChecksRunOnTheBoundedVerifierPool) {
  auto registry = open_registry(dir_);
  LoginConfig config = base_config(AuthMode::static_accounts);
  auto accounts = std::make_shared<AccountsFile>();
  accounts->hashes["alice"] = hash_password("pw");
  config.accounts = accounts;
  config.verify_threads = 1;
  config.verify_queue_max = 2;
  Login login(config, *registry, net::os_random());
  const std::string body = R"({"name":"alice","password":"pw"})";
  // 12 hosts at once: at most one verifying and two waiting; the rest are answered busy on the
  // submitting thread, and every login is answered exactly once.
  std::vector<std::string> hosts;
  for (int i = 0; i < 12; ++i) hosts.push_back("10.0.0." + std::to_string(i));
  std::vector<bool> on_caller;
  auto answers = submit_all(login, body, hosts, 12, &on_caller);
  const auto oks = std::count(answers.begin(), answers.end(), LoginReason::ok);
  const auto busy = std::count(answers.begin(), answers.end(), LoginReason::busy);
  EXPECT_EQ(oks + busy, 12);
  EXPECT_GE(oks, 2);
  EXPECT_LE(oks, 3);
  EXPECT_EQ(counted(login, LoginReason::busy), static_cast<uint64_t>(busy));
  for (size_t i = 0; i < answers.size(); ++i) {
    if (answers[i] == LoginReason::ok) {
      EXPECT_FALSE(on_caller[i]);  // verified on a verifier thread
    }
  }
  // One host cannot hold more than its share of the queue.
  answers = submit_all(login, body, {"10.9.9.9"}, 2 + login_verifications_per_address_max);
  EXPECT_EQ(std::count(answers.begin(), answers.end(), LoginReason::rate_limited), 2);
  EXPECT_EQ(std::count(answers.begin(), answers.end(), LoginReason::ok),
            static_cast<long>(login_verifications_per_address_max));
}

// --- Ticket mode -----------------------------------------------------------------------------

TEST_F(LoginTest, TicketModeRefusesForgedExpiredReplayedAndTooLongTickets) {
  auto registry = open_registry(dir_);
  LoginConfig config = base_config(AuthMode::ticket);
  config.ticket_key = parse_ticket_key(std::string(64, 'a'));
  ASSERT_TRUE(config.ticket_key);
  config.ticket_lifetime_max_s = 300;
  Login login(config, *registry, net::os_random());
  const uint64_t now_s = t0_us / 1'000'000;
  auto body = [](const std::string& ticket) { return ticket_body(ticket); };
  const std::string ticket = mint_ticket(*config.ticket_key, "carol", now_s, 60, net::os_random());
  const auto ok = attempt(login, {body(ticket)});
  ASSERT_EQ(ok.reason, LoginReason::ok);
  EXPECT_EQ(ok.player, 1U);
  EXPECT_EQ(attempt(login, {body(ticket)}).reason, LoginReason::replayed_ticket);
  TicketKey forged_key = *config.ticket_key;
  forged_key[0] ^= 1;
  EXPECT_EQ(attempt(login, {body(mint_ticket(forged_key, "carol", now_s, 60, net::os_random()))}).reason,
            LoginReason::forged_ticket);
  EXPECT_EQ(attempt(login, {body("not-a-ticket")}).reason, LoginReason::forged_ticket);
  EXPECT_EQ(attempt(login, {body(mint_ticket(*config.ticket_key, "carol", now_s - 120, 60, net::os_random()))}).reason,
            LoginReason::expired_ticket);
  const std::string later = mint_ticket(*config.ticket_key, "carol", now_s, 30, net::os_random());
  EXPECT_EQ(attempt(login, {body(later), "127.0.0.1", "", false, t0_us + 31'000'000}).reason,
            LoginReason::expired_ticket);
  EXPECT_EQ(attempt(login, {body(mint_ticket(*config.ticket_key, "carol", now_s, 3600, net::os_random()))}).reason,
            LoginReason::ticket_too_long);
  EXPECT_EQ(
      attempt(login, {ticket_body(mint_ticket(*config.ticket_key, "carol", now_s, 60, net::os_random()), "alice")})
          .reason,
      LoginReason::ticket_name_mismatch);
  EXPECT_EQ(attempt(login, {R"({"name":"carol"})"}).reason, LoginReason::missing_credential);
  EXPECT_EQ(counted(login, LoginReason::forged_ticket), 2U);
  EXPECT_EQ(counted(login, LoginReason::expired_ticket), 2U);
  EXPECT_EQ(login_status(LoginReason::expired_ticket), 401);
}

// --- Observers and the admin credential ------------------------------------------------------

TEST_F(LoginTest, ObserversNeedTheAdminCredentialOnTheAdminListener) {
  auto registry = open_registry(dir_);
  Login login(base_config(AuthMode::dev), *registry, net::os_random());
  const std::string body = R"({"name":"alice","role":"observer"})";
  const std::string bearer = "Bearer " + admin_token;
  EXPECT_EQ(attempt(login, {body, "127.0.0.1", bearer, false}).reason, LoginReason::observer_admin_only);
  EXPECT_EQ(attempt(login, {body, "127.0.0.1", "", true}).reason, LoginReason::observer_needs_admin);
  EXPECT_EQ(attempt(login, {body, "127.0.0.1", "Bearer wrong", true}).reason, LoginReason::observer_needs_admin);
  EXPECT_EQ(attempt(login, {body, "127.0.0.1", bearer + "x", true}).reason, LoginReason::observer_needs_admin);
  EXPECT_EQ(attempt(login, {body, "127.0.0.1", admin_token, true}).reason, LoginReason::observer_needs_admin);
  EXPECT_EQ(attempt(login, {R"({"name":"alice","role":"admin"})", "127.0.0.1", bearer, true}).reason,
            LoginReason::bad_role);
  const auto player = attempt(login, {R"({"name":"alice"})"});
  const auto observer = attempt(login, {body, "127.0.0.1", bearer, true});
  ASSERT_EQ(observer.reason, LoginReason::ok);
  EXPECT_TRUE(observer.observer);
  EXPECT_NE(observer.player, player.player);  // an observer named alice is not the player alice
  EXPECT_EQ(counted(login, LoginReason::observer_needs_admin), 4U);
  EXPECT_EQ(login_status(LoginReason::observer_needs_admin), 403);
}

TEST_F(LoginTest, NoAdminTokenConfiguredMeansNoObserver) {
  auto registry = open_registry(dir_);
  LoginConfig config = base_config(AuthMode::dev);
  config.admin_token.clear();
  Login login(config, *registry, net::os_random());
  EXPECT_EQ(attempt(login, {R"({"name":"a","role":"observer"})", "127.0.0.1", "Bearer ", true}).reason,
            LoginReason::observer_needs_admin);
  EXPECT_FALSE(login.admin_request_ok("Bearer "));
}

// --- Per-address rate limit ------------------------------------------------------------------

TEST_F(LoginTest, AttemptsAreRateLimitedPerAddress) {
  auto registry = open_registry(dir_);
  LoginConfig config = base_config(AuthMode::dev);
  config.attempts_per_address_per_s = 2;
  config.attempts_burst_per_address = 4;
  Login login(config, *registry, net::os_random());
  for (int i = 0; i < 4; ++i) EXPECT_EQ(attempt(login, {R"({"name":"a"})"}).reason, LoginReason::ok);
  EXPECT_EQ(attempt(login, {R"({"name":"a"})"}).reason, LoginReason::rate_limited);
  EXPECT_EQ(attempt(login, {"garbage"}).reason, LoginReason::rate_limited);  // before any parsing
  EXPECT_EQ(attempt(login, {R"({"name":"a"})", "127.0.0.9"}).reason, LoginReason::ok);
  EXPECT_EQ(attempt(login, {R"({"name":"a"})", "127.0.0.1", "", false, t0_us + 500'000}).reason, LoginReason::ok);
  EXPECT_EQ(counted(login, LoginReason::rate_limited), 2U);
  EXPECT_EQ(login_status(LoginReason::rate_limited), 429);
  const std::string metrics = login_metrics_text(login);
  EXPECT_NE(metrics.find("strata_logins_total{reason=\"rate_limited\"} 2\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("strata_logins_total{reason=\"ok\"} 6\n"), std::string::npos) << metrics;
  EXPECT_NE(login_counters_json(login).find("\"rate_limited\":2"), std::string::npos);
}

// --- The HTTP answer, the config checks, a deferred route -------------------------------------

TEST(LoginHttp, RefusalsAreJsonWithTheReasonAndStatus) {
  const auto refused = login_response(LoginResult{LoginReason::malformed, 0, false, {}}, 27501);
  EXPECT_EQ(refused.status, 400);
  EXPECT_EQ(refused.content_type, "application/json");
  EXPECT_NE(refused.body.find("\"error\":\"malformed\""), std::string::npos);
  EXPECT_EQ(login_response(LoginResult{LoginReason::busy, 0, false, {}}, 1).status, 503);
  const auto ok = login_response(LoginResult{LoginReason::ok, 7, false, {}}, 27501);
  EXPECT_EQ(ok.status, 200);
  EXPECT_NE(ok.body.find("\"player\":7"), std::string::npos);
  EXPECT_NE(ok.body.find("\"tcp_port\":27501"), std::string::npos);
}

TEST_F(LoginTest, AdminRoutesOffLoopbackNeedTheAdminToken) {
  auto registry = open_registry(dir_);
  Login login(base_config(AuthMode::static_accounts), *registry, net::os_random());
  HttpRequest request;
  EXPECT_FALSE(refuse_admin_request(login, true, request));  // on loopback: open
  const auto refused = refuse_admin_request(login, false, request);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 401);
  request.headers.emplace_back("authorization", "Bearer " + admin_token);
  EXPECT_FALSE(refuse_admin_request(login, false, request));
}

TEST(LoginConfigCheck, DevModeIsRefusedOffLoopback) {
  ServerConfig config;
  EXPECT_TRUE(validate_config(config).empty());  // the default: dev mode on 127.0.0.1
  config.bind_address = "0.0.0.0";
  auto errors = validate_config(config);
  ASSERT_EQ(errors.size(), 1U);
  EXPECT_NE(errors[0].message.find("needs every listener on loopback"), std::string::npos);
  config.bind_address = "127.0.0.1";
  config.admin_bind_address = "10.1.2.3";
  EXPECT_EQ(validate_config(config).size(), 2U);  // dev off loopback, and an open admin listener
  config.auth.mode = "static";
  config.auth.admin_token_file = "/etc/strata/admin-token";
  errors = validate_config(config);
  ASSERT_EQ(errors.size(), 1U);
  EXPECT_EQ(errors[0].message, "auth.mode static needs auth.accounts_file");
  config.auth.mode = "ticket";
  EXPECT_EQ(validate_config(config)[0].message, "auth.mode ticket needs auth.ticket_key_file");
  EXPECT_TRUE(is_loopback("127.0.0.1"));
  EXPECT_TRUE(is_loopback("127.200.3.4"));
  EXPECT_TRUE(is_loopback("::1"));
  EXPECT_TRUE(is_loopback("::ffff:127.0.0.1"));
  EXPECT_FALSE(is_loopback("0.0.0.0"));
  EXPECT_FALSE(is_loopback("128.0.0.1"));
  EXPECT_FALSE(is_loopback("127.0.0.1x"));
  EXPECT_FALSE(is_loopback(""));
}

TEST(HttpDeferred, ARouteAnsweredFromAnotherThreadKnowsThePeer) {
  HttpServer http(HttpConfig{});
  std::vector<std::thread> workers;
  std::mutex mutex;
  http.add_deferred_route(HttpMethod::post, "/later", [&](const HttpRequest& request, HttpReply reply) {
    std::lock_guard lock(mutex);
    workers.emplace_back([reply = std::move(reply), peer = request.remote_address]() mutable {
      reply(HttpResponse{202, "text/plain", "from " + peer + "\n", {}});
    });
  });
  std::string error;
  ASSERT_TRUE(http.start(error)) << error;
  // A raw request over loopback.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(http.port());
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  const std::string request = "POST /later HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
  ASSERT_EQ(::send(fd, request.data(), request.size(), 0), static_cast<ssize_t>(request.size()));
  std::string response;
  char buffer[1024];
  for (ssize_t n; (n = ::recv(fd, buffer, sizeof buffer, 0)) > 0;) response.append(buffer, static_cast<size_t>(n));
  ::close(fd);
  EXPECT_EQ(response.rfind("HTTP/1.1 202", 0), 0U) << response;
  EXPECT_NE(response.find("from 127.0.0.1"), std::string::npos) << response;
  for (std::thread& worker : workers) worker.join();
  http.stop();
}

}  // namespace
}  // namespace strata::server
