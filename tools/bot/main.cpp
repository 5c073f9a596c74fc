// strata-bot — N headless game clients in one process, for load and end-to-end tests. Each bot
// logs in over HTTP (POST /api/login; one kept-alive connection per group, on a thread of its own,
// at most --login-rate a second), connects with the token over UDP (or TCP: --tcp, and the
// fallback when a UDP handshake times out; --udp-blocked forces it), and behaves (wander, build,
// break, chat, join/leave churn; --spread walks each bot out to a home of its own first) while the
// SDK applies and verifies every snapshot. Prints a live summary every few seconds and a final
// report; exits 0 only when no bot saw a checksum mismatch and every bot that should be connected
// is. The run ends at --seconds whatever the server does: every login is bounded in time (a login
// under way at the end is cut off then), so a server that stalls cannot keep the process alive;
// connections lost are counted in the report ("lost connections"). --threads splits the bots over
// threads; each waits on all its sockets with one epoll set. --observer logs in on the server's admin
// listener (--admin-port) with its admin token. Against a loopback server the UDP bots of a thread
// share one socket, each bot with an address of its own (tools/bot/shared_udp.h), and a thread's
// loop turns at most every --loop-min-us: the
// datagrams of all its bots then go in and out in recvmmsg/sendmmsg batches (at 1,000 bots the
// process's CPU fell from 42% to 26% of a core). --socket-per-bot keeps a socket per bot.
//
// Verification: by default every bot reconstructs and verifies every snapshot. --verify-every N
// keeps that for every Nth bot only; the others are light (GameClientConfig::light): they decrypt
// every snapshot, read its header and acknowledge it, so the server does the same work for them,
// but they verify nothing. The report then says "verification: PARTIAL".
#include <utility>  // before Asio (Boost 1.74 + C++20 + GCC 12)

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <sodium.h>
#include <CLI/CLI.hpp>

#include <malloc.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "net/sdk/game_client.h"
#include "net/sdk/login_client.h"
#include "net/sdk/observer.h"
#include "net/transport.h"
#include "sim/rng.h"
#include "tools/bot/shared_udp.h"

namespace {

using namespace strata;

struct Bot {
  std::string name;
  std::unique_ptr<bot::SharedUdpSink> shared;  // UDP on the group's shared socket (loopback), or
  std::unique_ptr<net::UdpSocket> socket;      // UDP on a socket of its own, or
  std::unique_ptr<net::TcpClient> stream;      // TCP (networks that block UDP; the fallback)
  bool use_tcp = false;                        // how the next connection goes
  bool light = false;                          // --verify-every: this bot does not verify (GameClientConfig::light)
  bool login_pending = false;                  // asked its group's LoginWorker
  bool udp_blocked = false;                    // --udp-blocked: its UDP datagrams never leave
  bool ever_connected = false;                 // this connection reached connected
  bool touched = false;                        // received this loop turn: serviced at its end
  std::unique_ptr<sdk::GameClient> client;
  uint64_t reconnect_at_us = 0;
  uint64_t connects = 0;
  sdk::GameClientStats finished;  // stats of earlier sessions (churn)
  // --spread: the bot's home, a random cell within spread_cells of where it first appeared.
  bool has_home = false;
  bool at_home = false;  // reached it once; from then on it wanders around it
  sim::CellPos home{};
  sim::CellPos progress_cell{};  // where it was at the last progress check
  uint64_t progress_check_us = 0;
  uint64_t detour_until_us = 0;  // blocked on the way: a random direction until then
  uint8_t heading = 0;           // the direction last submitted
  uint64_t heading_at_us = 0;
  struct Leg {
    uint8_t heading = 0;
    uint64_t until_us = 0;
  };
  std::array<Leg, 2> legs{};  // a light bot's blind walk out (it has no view to steer by)
};

struct Options {
  std::string host = "127.0.0.1";
  uint16_t http_port = 8080;
  uint32_t bots = 10;
  double seconds = 30;
  uint32_t move_per_mille = 60;
  uint32_t build_per_mille = 20;
  uint32_t break_per_mille = 15;
  uint32_t churn_per_mille = 0;     // per bot per second: disconnect and come back
  uint32_t chat_per_mille = 2;      // per bot per tick: say a line
  uint32_t tcp_per_mille = 0;       // bots that connect over TCP from the start
  double prediction_exact_min = 0;  // fail (exit 7) when fewer predicted ticks than this were exact
  uint64_t seed = 1;
  std::string name_prefix = "bot";
  bool observer = false;
  uint16_t admin_port = 0;       // the server's admin listener (observer logins)
  std::string admin_token_file;  // the admin credential for the observer login
  uint32_t threads = 1;
  uint32_t login_rate = 250;   // logins per second at most (the whole process)
  double service_ms = 2;       // every bot's update and send at least this often
  uint32_t spread_cells = 0;   // 0: wander from the spawn; else first walk to a home this far out
  uint32_t wander_cells = 12;  // with --spread: how far a bot strays from its home
  uint32_t verify_every = 1;   // every Nth bot reconstructs and verifies; the others are light
  size_t views_kept = sdk::default_game_client_config().views_kept;
  bool udp_blocked = false;  // drop every UDP datagram the bots send: they must fall back to TCP
  // UDP bots share one socket per thread, each with its own 127.x.y.z address (loopback servers
  // only; see tools/bot/shared_udp.h); false: a socket per bot.
  bool shared_socket = true;
  uint32_t loop_min_us = 1000;       // a thread's loop turns at most this often (datagrams wait in batches)
  uint32_t login_timeout_ms = 5000;  // one login (HTTP exchange) at most; also cut off at the run's end
  std::atomic<uint64_t> end_us{0};   // the run's end (set once it starts; 0 before); read by login threads
};

// Addresses of bots on shared sockets: a new one per connection (a server still holding a lost
// connection would refuse a reconnect from the same address), from 127.100.0.1 up.
std::atomic<uint32_t> next_bot_ip{0x7f640001};

void accumulate(sdk::GameClientStats& into, const sdk::GameClientStats& s) {
  into.snapshots_received += s.snapshots_received;
  into.snapshots_applied += s.snapshots_applied;
  into.snapshots_unverified += s.snapshots_unverified;
  into.header_only += s.header_only;
  into.snapshot_bytes += s.snapshot_bytes;
  into.full_snapshots += s.full_snapshots;
  into.checksum_mismatches += s.checksum_mismatches;
  into.missing_baseline += s.missing_baseline;
  into.stale_snapshots += s.stale_snapshots;
  into.refused_messages += s.refused_messages;
  into.inputs_submitted += s.inputs_submitted;
  into.chat_sent += s.chat_sent;
  into.chat_received += s.chat_received;
}

// --udp-blocked: what a firewall that drops UDP does to a bot's datagrams.
class BlackHole : public net::DatagramSink {
 public:
  void send_datagram(net::TransportKind, const net::Address&, std::span<const uint8_t>) override {}
};

net::DatagramSink& sink_of(Bot& bot) {
  static BlackHole black_hole;  // stateless
  if (bot.stream) return *bot.stream;
  if (bot.udp_blocked) return black_hole;
  if (bot.shared) return *bot.shared;
  return *bot.socket;
}

void flush(Bot& bot) {
  if (bot.socket) bot.socket->flush();  // a shared socket is flushed once per loop turn
}

void service(Bot& bot, uint64_t now) {
  bot.client->update(now);
  bot.client->send_packets(now, sink_of(bot));
  flush(bot);
}

void drop_transport(Bot& bot) {
  bot.stream.reset();  // first: its callbacks name the client
  bot.socket.reset();
  bot.shared.reset();  // its address is not reused; datagrams still on the way to it are dropped
  bot.client.reset();
}

struct LoginDone {
  Bot* bot = nullptr;
  std::optional<sdk::LoginReply> reply;
  std::string error;
};

// Logins on a thread of their own: an HTTP exchange blocks (for long when the server is busy),
// and the group's loop must keep servicing its connected bots meanwhile (a stalled loop timed out
// the handshakes of the bots that had just logged in). A few threads, each with one kept-alive
// HTTP connection.
class LoginWorker {
 public:
  static constexpr size_t connections = 4;  // logins under way at once (a busy server answers slowly)

  explicit LoginWorker(const Options& o) : options_(o) {
    for (size_t i = 0; i < connections; ++i)
      clients_.push_back(std::make_unique<sdk::LoginClient>(o.host, o.http_port, o.login_timeout_ms));
    for (size_t i = 0; i < connections; ++i) threads_.emplace_back([this, i] { run(*clients_[i]); });
  }
  ~LoginWorker() { stop(); }
  // Finishes the login under way (bounded: it ends by the run's end), drops the queued ones; idempotent.
  void stop() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    for (std::thread& thread : threads_) {
      if (thread.joinable()) thread.join();
    }
  }
  LoginWorker(const LoginWorker&) = delete;
  LoginWorker& operator=(const LoginWorker&) = delete;

  void request(Bot* bot) {
    {
      std::lock_guard lock(mutex_);
      queue_.push_back(bot);
    }
    wake_.notify_one();
  }
  // Moves the finished logins into `out` (emptied first).
  void take(std::vector<LoginDone>& out) {
    out.clear();
    std::lock_guard lock(mutex_);
    out.swap(done_);
  }

 private:
  void run(sdk::LoginClient& client) {
    for (;;) {
      Bot* bot = nullptr;
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [&] { return stop_ || !queue_.empty(); });
        if (stop_) return;
        bot = queue_.front();
        queue_.pop_front();
      }
      LoginDone done{bot, std::nullopt, {}};
      // Never past the run's end: the HTTP exchange of a stalled server would otherwise keep
      // stop() (and so the process) waiting after --seconds.
      const uint64_t now = net::system_now_us();
      const uint64_t end = options_.end_us.load();
      if (end != 0 && now >= end) continue;
      const uint64_t left_ms = end == 0 ? options_.login_timeout_ms : (end - now) / 1000 + 1;
      client.set_timeout_ms(static_cast<uint32_t>(std::min<uint64_t>(options_.login_timeout_ms, left_ms)));
      done.reply = client.login(bot->name, done.error);  // bot->name never changes after start
      std::lock_guard lock(mutex_);
      done_.push_back(std::move(done));
    }
  }

  const Options& options_;
  std::vector<std::unique_ptr<sdk::LoginClient>> clients_;  // one kept-alive connection per thread
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Bot*> queue_;
  std::vector<LoginDone> done_;
  bool stop_ = false;
  std::vector<std::thread> threads_;  // last: started once the rest is built
};

struct Group {
  explicit Group(const Options& o) : login(o), epoll_fd(::epoll_create1(EPOLL_CLOEXEC)) {}
  ~Group() {
    if (epoll_fd >= 0) ::close(epoll_fd);
  }
  Group(const Group&) = delete;
  Group& operator=(const Group&) = delete;
  boost::asio::io_context io;  // the group's sockets
  // Without work an io_context stops at its first poll() and runs nothing after: a group whose
  // bots were all on UDP then never connected a bot that fell back to TCP.
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> keep_polling =
      boost::asio::make_work_guard(io);
  LoginWorker login;  // the group's logins
  std::vector<LoginDone> logged_in;
  // The group's UDP sockets, each registered once with its Bot: a wait costs nothing per idle
  // socket (poll(2) over thousands of them every 2 ms cost a good share of the bots' CPU).
  int epoll_fd = -1;
  // UDP bots on loopback: one socket for the group, its datagrams dispatched by destination
  // address (registered with the epoll set with a null pointer).
  std::unique_ptr<bot::SharedUdp> shared_udp;
  std::unordered_map<uint32_t, Bot*> by_ip;  // entries of dropped connections stay, and are ignored
  std::vector<Bot*> touched;
  size_t streams_open = 0;  // bots on TCP (counted every think): their io_context needs polling
  std::vector<Bot*> bots;
  sim::Rng rng = sim::Rng::seeded(1, 9);
  uint64_t churned = 0;
  uint64_t reconnects = 0;
  uint64_t fallbacks = 0;              // bots that fell back from UDP to TCP
  uint64_t login_failures = 0;         // logins refused, failed or timed out (then retried)
  std::array<uint64_t, 6> failures{};  // connections that failed, by net::ClientFailure
  std::array<uint64_t, static_cast<size_t>(net::disconnect_reason_last) + 1> disconnects{};  // lost, by reason
  uint64_t visible_sum = 0;  // entities in view, summed over bots once a second
  uint64_t visible_samples = 0;
  uint64_t visible_late_sum = 0;  // the same over the last third of the run (spread out by then)
  uint64_t visible_late_samples = 0;
  std::atomic<size_t> connected{0};  // for the live summary
  std::atomic<uint64_t> mismatches{0};
  // The longest turn of the loop (work between two waits) since the last live summary: a bot
  // process that cannot keep up shows it here before its RTTs do.
  std::atomic<uint64_t> loop_lag_max_us{0};
};

// Connects a bot that logged in (over UDP, or TCP when it has fallen back).
bool connect_bot(Bot& bot, Group& group, const Options& options, const sdk::LoginReply* reply, uint64_t now_us,
                 std::string& error) {
  boost::asio::io_context& io = group.io;
  sdk::GameClientConfig config = sdk::default_game_client_config();
  config.light = bot.light;
  config.views_kept = options.views_kept;
  if (bot.use_tcp) {
    if (reply->tcp_port == 0) {
      error = "the login did not say the server's TCP port";
      return false;
    }
    config.net.transport = net::TransportKind::stream;
    bot.client = std::make_unique<sdk::GameClient>(config);
    sdk::GameClient* client = bot.client.get();
    bot.stream = std::make_unique<net::TcpClient>(
        io,
        [client, &bot](const net::Address& from, std::span<const uint8_t> frame) {
          if (bot.client.get() == client) client->receive(from, frame, net::system_now_us());
        },
        [] {});
    bot.stream->connect(reply->server_tcp);
  } else if (group.shared_udp) {
    const uint32_t ip = next_bot_ip.fetch_add(1);
    bot.shared = std::make_unique<bot::SharedUdpSink>(*group.shared_udp, ip);
    group.by_ip[ip] = &bot;
    bot.client = std::make_unique<sdk::GameClient>(config);
  } else {
    net::UdpConfig udp;
    udp.receive_buffer_bytes = 256 << 10;
    udp.send_buffer_bytes = 256 << 10;
    udp.batch = 8;  // a bot gets a few datagrams per wake: small buffers, less to clear per call
    bot.socket = net::UdpSocket::open(io, udp, error);
    if (!bot.socket) return false;
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.ptr = &bot;
    if (::epoll_ctl(group.epoll_fd, EPOLL_CTL_ADD, bot.socket->native_handle(), &event) != 0) {
      error = std::string("epoll_ctl: ") + std::strerror(errno);
      bot.socket.reset();
      return false;
    }
    bot.client = std::make_unique<sdk::GameClient>(config);
  }
  const bool started = bot.stream ? bot.client->connect_stream(reply->token, reply->server_tcp, now_us)
                                  : bot.client->connect(reply->token, now_us);
  if (!started) {
    error = "the token was refused by the client";
    return false;
  }
  bot.ever_connected = false;
  bot.connects += 1;
  return true;
}

std::optional<sim::Vec2> own_position(const sdk::GameClient& c) {
  if (c.view() == nullptr) return std::nullopt;  // light: no view
  const view::EntityKey me{view::EntityKind::player, 0, c.welcome()->player};
  const auto& entities = c.view()->entities;
  auto it = std::lower_bound(entities.begin(), entities.end(), me,
                             [](const view::EntityState& e, const view::EntityKey& k) { return e.key < k; });
  if (it == entities.end() || it->key != me) return std::nullopt;
  return sim::Vec2{sim::Fixed::from_raw(it->x), sim::Fixed::from_raw(it->y)};
}

sim::Direction direction_of(int32_t dx, int32_t dy) {
  static constexpr sim::Direction table[3][3] = {{sim::Direction::nw, sim::Direction::n, sim::Direction::ne},
                                                 {sim::Direction::w, sim::Direction::none, sim::Direction::e},
                                                 {sim::Direction::sw, sim::Direction::s, sim::Direction::se}};
  return table[(dy > 0) - (dy < 0) + 1][(dx > 0) - (dx < 0) + 1];
}

// Submits a walk or run in `heading` when it differs from the last one, or a second after it (a
// move is an intent the server keeps; resent now and then in case one was refused).
void head(Bot& bot, uint8_t heading, bool run, uint64_t now_us) {
  if (heading == bot.heading && now_us - bot.heading_at_us < 1'000'000) return;
  bot.client->submit(
      sim::MoveCommand{{}, 0, static_cast<sim::Direction>(heading), run ? sim::MoveMode::run : sim::MoveMode::walk},
      now_us);
  bot.heading = heading;
  bot.heading_at_us = now_us;
}

// --spread for a light bot, which has no view and so does not know where it is: it walks out
// blind, a diagonal leg then a straight one toward a random offset, each timed at walking speed,
// then wanders. A leg that meets an obstacle ends short: a spread, not a placement.
bool steer_blind(Bot& bot, sim::Rng& rng, const Options& options, uint64_t now_us) {
  if (bot.at_home) return false;
  if (!bot.has_home) {
    const auto spread = static_cast<int32_t>(options.spread_cells);
    auto offset = [&] { return static_cast<int32_t>(rng.below(static_cast<uint32_t>(2 * spread + 1))) - spread; };
    const int32_t dx = offset();
    const int32_t dy = offset();
    const int64_t diagonal = std::min(std::abs(dx), std::abs(dy));
    const int64_t straight = std::max(std::abs(dx), std::abs(dy)) - diagonal;
    const int64_t tick_us = 1'000'000 / std::max<uint32_t>(1, bot.client->welcome()->tick_rate_hz);
    // Cells to ticks: a walk covers walk_speed/256 cell a tick along each axis it moves on
    // (times diagonal_numerator/256 on a diagonal).
    const int64_t diagonal_speed = sim::limits::walk_speed * sim::limits::diagonal_numerator / sim::limits::fixed_one;
    const int64_t diagonal_us = diagonal * sim::limits::fixed_one / diagonal_speed * tick_us;
    const int64_t straight_us = straight * sim::limits::fixed_one / sim::limits::walk_speed * tick_us;
    bot.legs[0] = {sim::to_underlying(direction_of(dx, dy)), now_us + static_cast<uint64_t>(diagonal_us)};
    bot.legs[1] = {
        sim::to_underlying(direction_of(std::abs(dx) > std::abs(dy) ? dx : 0, std::abs(dy) > std::abs(dx) ? dy : 0)),
        now_us + static_cast<uint64_t>(diagonal_us + straight_us)};
    bot.has_home = true;
  }
  for (const Bot::Leg& leg : bot.legs) {
    if (now_us < leg.until_us) {
      head(bot, leg.heading, false, now_us);
      return true;
    }
  }
  bot.at_home = true;
  return false;
}

// --spread: walks to its home (a random cell within spread_cells of its spawn), then wanders
// there, walking back whenever it strays farther than wander_cells. A client can only send moves:
// the server's spawn rule is part of the simulation and stays as it is. True when it steered
// this think (no random move then).
bool steer_home(Bot& bot, sim::Rng& rng, const Options& options, uint64_t now_us) {
  sdk::GameClient& c = *bot.client;
  if (c.view() == nullptr) return steer_blind(bot, rng, options, now_us);
  std::optional<sim::Vec2> position = c.predicted_position();
  if (!position) return false;
  const sim::CellPos cell{position->x.raw() >> 8, position->y.raw() >> 8};
  if (!bot.has_home) {
    const int32_t spread = static_cast<int32_t>(options.spread_cells);
    const int32_t width = c.welcome()->chunks_x * sim::limits::chunk_size;
    const int32_t height = c.welcome()->chunks_y * sim::limits::chunk_size;
    auto offset = [&] { return static_cast<int32_t>(rng.below(static_cast<uint32_t>(2 * spread + 1))) - spread; };
    bot.home = sim::CellPos{std::clamp(cell.x + offset(), 2, std::max(2, width - 3)),
                            std::clamp(cell.y + offset(), 2, std::max(2, height - 3))};
    bot.has_home = true;
    bot.progress_cell = cell;
    bot.progress_check_us = now_us + 3'000'000;
  }
  const int32_t dx = bot.home.x - cell.x;
  const int32_t dy = bot.home.y - cell.y;
  const int32_t distance = std::max(std::abs(dx), std::abs(dy));
  if (distance <= 1) bot.at_home = true;
  if (bot.at_home && distance <= static_cast<int32_t>(options.wander_cells)) return false;
  if (now_us >= bot.progress_check_us) {
    // Blocked (water, a wall, other players)? Try a random direction for a second.
    const int32_t moved = std::max(std::abs(cell.x - bot.progress_cell.x), std::abs(cell.y - bot.progress_cell.y));
    if (moved < 2) bot.detour_until_us = now_us + 1'000'000;
    bot.progress_cell = cell;
    bot.progress_check_us = now_us + 3'000'000;
  }
  uint8_t heading = 0;
  if (now_us < bot.detour_until_us) {
    heading = bot.heading != 0 && rng.below(10) != 0 ? bot.heading : static_cast<uint8_t>(1 + rng.below(8));
  } else {
    heading = sim::to_underlying(direction_of(dx, dy));
  }
  head(bot, heading, c.base_motion().stamina >= sim::limits::stamina_run_min + 10, now_us);
  return true;
}

void behave(Bot& bot, sim::Rng& rng, const Options& options, uint64_t now_us) {
  sdk::GameClient& c = *bot.client;
  if (!c.welcome() || c.newest_tick() == 0) return;
  const bool steered = options.spread_cells > 0 && steer_home(bot, rng, options, now_us);
  if (!steered && rng.below(1000) < options.move_per_mille) {
    c.submit(sim::MoveCommand{{},
                              0,
                              static_cast<sim::Direction>(rng.below(9)),
                              rng.below(4) == 0 ? sim::MoveMode::run : sim::MoveMode::walk},
             now_us);
  }
  if (rng.below(1000) < options.chat_per_mille) {
    static constexpr const char* lines[] = {"hello", "anyone near the river?", "building a wall here",
                                            "gg",    "héllo wörld ✓",          "need wood"};
    (void)c.say(std::string(lines[rng.below(std::size(lines))]) + " #" + std::to_string(c.stats().chat_sent));
    c.take_chat();  // a bot reads nothing; the count is in its stats
  }
  const bool build = rng.below(1000) < options.build_per_mille;
  const bool dig = rng.below(1000) < options.break_per_mille;
  if (!build && !dig) return;
  const std::optional<sim::Vec2> me = own_position(c);
  if (!me) return;
  const sim::CellPos cell{(me->x.raw() >> 8) + static_cast<int32_t>(rng.below(5)) - 2,
                          (me->y.raw() >> 8) + static_cast<int32_t>(rng.below(5)) - 2};
  if (build)
    c.submit(sim::PlaceCommand{{}, 0, cell, sim::Layer::active, sim::to_underlying(sim::Block::wood_wall), {}}, now_us);
  if (dig) c.submit(sim::BreakCommand{{}, 0, cell, sim::Layer::active, {}}, now_us);
}

// One group's loop until `end`. Group 0 also drives the observer and prints the live summary.
void run_group(Group& g, const Options& o, uint64_t start, uint64_t end, sdk::Observer* observer,
               net::UdpSocket* observer_socket, const std::vector<std::unique_ptr<Group>>* all = nullptr) {
  uint64_t next_think = start;
  uint64_t next_service = start;
  uint64_t next_sample = start + 1'000'000;
  uint64_t next_report = start + 5'000'000;
  std::vector<epoll_event> events(256);
  uint64_t now = 0;
  const auto logins_per_think = std::max<uint32_t>(1, o.login_rate / 20 / std::max<uint32_t>(1, o.threads));
  const uint64_t service_us = static_cast<uint64_t>(o.service_ms * 1000);
  uint64_t turn_start_us = net::system_now_us();
  while ((now = net::system_now_us()) < end) {
    uint64_t wait_us = next_service > now ? next_service - now : 0;
    if (observer != nullptr) wait_us = std::min<uint64_t>(wait_us, 2'000);
    if (g.streams_open > 0) wait_us = std::min<uint64_t>(wait_us, 1'000);  // TCP bots: the io_context is polled
    // A turn at most every loop_min_us: what arrives meanwhile is taken in one batch.
    if (const uint64_t spent = net::system_now_us() - turn_start_us; spent < o.loop_min_us)
      std::this_thread::sleep_for(std::chrono::microseconds(o.loop_min_us - spent));
    const int ready = ::epoll_wait(g.epoll_fd, events.data(), static_cast<int>(events.size()),
                                   static_cast<int>((wait_us + 999) / 1000));
    g.io.poll();  // TCP bots: their streams' reads and writes
    if (const uint64_t turn = now - turn_start_us; turn > g.loop_lag_max_us.load(std::memory_order_relaxed))
      g.loop_lag_max_us.store(turn, std::memory_order_relaxed);
    now = net::system_now_us();
    turn_start_us = now;
    for (int i = 0; i < ready; ++i) {
      if (events[static_cast<size_t>(i)].data.ptr == nullptr) {  // the shared socket
        g.shared_udp->receive([&](uint32_t to_ip, const net::Address& from, std::span<const uint8_t> data) {
          const auto it = g.by_ip.find(to_ip);
          if (it == g.by_ip.end()) return;
          Bot& bot = *it->second;
          if (!bot.client || !bot.shared || bot.shared->ip() != to_ip) return;  // an earlier connection's
          bot.client->receive(from, data, now);
          if (!bot.touched) {
            bot.touched = true;
            g.touched.push_back(&bot);
          }
        });
        // Each bot once, after all its datagrams: its acks leave in this turn's batch.
        for (Bot* bot : g.touched) {
          bot->touched = false;
          if (bot->client) service(*bot, now);
        }
        g.touched.clear();
        continue;
      }
      Bot& bot = *static_cast<Bot*>(events[static_cast<size_t>(i)].data.ptr);
      if (!bot.client || !bot.socket) continue;
      bot.socket->receive(
          [&](const net::Address& from, std::span<const uint8_t> data) { bot.client->receive(from, data, now); });
      // Process at once: the snapshot's ack (and the netchannel's) leave without waiting for
      // the next service round, so the RTT measured is the network's, not our polling interval.
      service(bot, now);
    }
    if (observer != nullptr) {
      observer_socket->receive(
          [&](const net::Address& from, std::span<const uint8_t> data) { observer->receive(from, data, now); });
      observer->update(now);
      observer->send_packets(now, *observer_socket);
      observer_socket->flush();
    }
    if (now >= next_think) {
      next_think += 50'000;
      // Logins block on an HTTP exchange: a bounded number per think, so the bots already
      // connected keep being serviced while thousands log in (their handshakes would time out).
      uint32_t logins_left = logins_per_think;
      g.streams_open = 0;
      for (const Bot* b : g.bots) g.streams_open += b->stream ? 1 : 0;
      g.login.take(g.logged_in);
      for (LoginDone& done : g.logged_in) {
        Bot& bot = *done.bot;
        bot.login_pending = false;
        if (!done.reply || !connect_bot(bot, g, o, &*done.reply, now, done.error)) {
          std::fprintf(stderr, "strata-bot: %s: %s (retrying)\n", bot.name.c_str(), done.error.c_str());
          g.login_failures += 1;
          drop_transport(bot);
          bot.reconnect_at_us = now + 1'000'000;
        }
      }
      for (Bot* b : g.bots) {
        Bot& bot = *b;
        if (!bot.client) {
          if (bot.login_pending || now < bot.reconnect_at_us || logins_left == 0) continue;
          logins_left -= 1;
          bot.login_pending = true;
          g.login.request(&bot);
          continue;
        }
        const net::ClientState state = bot.client->state();
        if (state == net::ClientState::connected) bot.ever_connected = true;
        if (state == net::ClientState::disconnected || state == net::ClientState::failed) {
          // A UDP handshake that the server never answered: the network may block UDP, so the
          // next login goes over TCP (the fallback). One it answered (a busy server, a bot loop
          // that fell behind) or a lost connection: log in again over UDP shortly.
          if (!bot.ever_connected && !bot.use_tcp && !bot.client->net_client().heard_from_server()) {
            bot.use_tcp = true;
            g.fallbacks += 1;
          }
          const net::Client& n = bot.client->net_client();
          if (state == net::ClientState::failed) {
            g.failures[std::min<size_t>(static_cast<size_t>(n.failure()), g.failures.size() - 1)] += 1;
          } else {
            g.disconnects[std::min<size_t>(static_cast<size_t>(n.disconnect_reason()), g.disconnects.size() - 1)] += 1;
          }
          accumulate(bot.finished, bot.client->stats());
          drop_transport(bot);
          bot.reconnect_at_us = now + 500'000 + g.rng.below(1'000'000);
          g.reconnects += 1;
          continue;
        }
        behave(bot, g.rng, o, now);
        if (bot.client->inputs_pending()) service(bot, now);  // its new inputs leave now
        if (o.churn_per_mille > 0 && g.rng.below(20'000) < o.churn_per_mille && bot.client->welcome()) {
          bot.client->disconnect(now);
          bot.client->send_packets(now, sink_of(bot));
          flush(bot);
          accumulate(bot.finished, bot.client->stats());
          drop_transport(bot);
          bot.reconnect_at_us = now + 1'000'000 + g.rng.below(2'000'000);
          g.churned += 1;
        }
      }
    }
    if (now >= next_service) {
      next_service = now + service_us;
      for (Bot* bot : g.bots) {
        if (bot->client) service(*bot, now);
      }
    }
    if (g.shared_udp) g.shared_udp->flush();  // this turn's datagrams of every bot, in batches
    if (now >= next_sample) {
      next_sample += 1'000'000;
      size_t connected = 0;
      uint64_t mismatches = 0;
      for (const Bot* bot : g.bots) {
        connected += bot->client && bot->client->state() == net::ClientState::connected ? 1 : 0;
        mismatches += bot->finished.checksum_mismatches + (bot->client ? bot->client->stats().checksum_mismatches : 0);
        if (!bot->client || bot->client->view() == nullptr) continue;
        g.visible_sum += bot->client->view()->entities.size();
        g.visible_samples += 1;
        if (3 * (now - start) >= 2 * (end - start)) {
          g.visible_late_sum += bot->client->view()->entities.size();
          g.visible_late_samples += 1;
        }
      }
      g.connected.store(connected);
      g.mismatches.store(mismatches);
    }
    if (all != nullptr && now >= next_report) {
      next_report += 5'000'000;
      size_t connected = 0, bots = 0;
      uint64_t mismatches = 0;
      for (const auto& other : *all) {
        connected += other->connected.load(), mismatches += other->mismatches.load(), bots += other->bots.size();
      }
      uint64_t lag_max_us = 0;
      for (const auto& other : *all) lag_max_us = std::max(lag_max_us, other->loop_lag_max_us.exchange(0));
      std::fprintf(stderr,
                   "strata-bot: %.0f s: %zu/%zu connected, %llu checksum mismatches; longest loop turn %.1f ms\n",
                   static_cast<double>(now - start) / 1e6, connected, bots, static_cast<unsigned long long>(mismatches),
                   static_cast<double>(lag_max_us) / 1e3);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"strata-bot: headless clients for load and end-to-end tests"};
  Options o;
  app.add_option("--host", o.host, "server host (HTTP login)");
  app.add_option("--http-port", o.http_port, "server HTTP port")->required();
  app.add_option("--bots", o.bots, "number of bots")->check(CLI::Range(1U, 10000U));
  app.add_option("--seconds", o.seconds, "how long to play");
  app.add_option("--move", o.move_per_mille, "per-mille chance per tick to change direction");
  app.add_option("--build", o.build_per_mille, "per-mille chance per tick to place a block");
  app.add_option("--break", o.break_per_mille, "per-mille chance per tick to break a block");
  app.add_option("--tcp", o.tcp_per_mille, "per-mille of bots that connect over TCP (as behind a UDP block)")
      ->check(CLI::Range(0U, 1000U));
  app.add_option("--prediction-exact-min", o.prediction_exact_min,
                 "fail unless at least this share of confirmed predictions were exact (0..1; the SDK's "
                 "documented tolerance: exact unless an input landed late)")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--chat", o.chat_per_mille, "per-mille chance per tick to say a chat line");
  app.add_option("--churn", o.churn_per_mille, "per-mille chance per bot per second to leave and come back");
  app.add_option("--seed", o.seed, "behaviour seed");
  app.add_option("--name-prefix", o.name_prefix, "bot login names are <prefix><n>");
  app.add_option("--threads", o.threads, "threads, each running an equal share of the bots")
      ->check(CLI::Range(1U, 64U));
  app.add_option("--login-rate", o.login_rate, "logins per second at most (start and reconnects)")
      ->check(CLI::Range(20U, 100000U));
  app.add_option("--service-ms", o.service_ms,
                 "update and send for every bot at least every this many ms (a bot that receives is serviced at once)")
      ->check(CLI::Range(0.5, 50.0));
  app.add_option("--spread", o.spread_cells,
                 "each bot first walks to a random cell within this many cells of its spawn (Chebyshev), then "
                 "wanders around it: spreads the swarm so each sees a realistic number of entities")
      ->check(CLI::Range(0U, 4096U));
  app.add_option("--wander", o.wander_cells, "with --spread: how far a bot strays from its cell before walking back")
      ->check(CLI::Range(1U, 256U));
  app.add_option("--verify-every", o.verify_every,
                 "only every Nth bot reconstructs its view and verifies every snapshot (AOI checksum, "
                 "prediction); the others are light: they decrypt every snapshot, decode its header and acknowledge "
                 "it (the server's work is the same) but apply and verify none, and with --spread walk out blind. "
                 "Default 1: every bot verifies")
      ->check(CLI::Range(1U, 1000000U));
  app.add_option("--views-kept", o.views_kept,
                 "views each bot keeps as possible baselines (the SDK's default covers 3 s of RTT; thousands of "
                 "bots on one box need less memory)")
      ->check(CLI::Range(size_t{2}, size_t{1024}));
  app.add_flag("--udp-blocked", o.udp_blocked,
               "drop every UDP datagram the bots send, as a firewall would: their handshakes time out and they "
               "must fall back to TCP (exit 8 unless every bot ends connected over TCP)");
  app.add_option("--loop-min-us", o.loop_min_us,
                 "each thread's loop turns at most this often: datagrams that arrive meanwhile are taken in one batch")
      ->check(CLI::Range(0U, 20000U));
  app.add_option("--login-timeout-ms", o.login_timeout_ms,
                 "a login (HTTP exchange) that has not completed in this long fails and is retried later")
      ->check(CLI::Range(100U, 600000U));
  bool socket_per_bot = false;
  app.add_flag("--socket-per-bot", socket_per_bot,
               "a UDP socket per bot; by default bots on a loopback server share one socket per thread, each "
               "with its own 127.x.y.z address (two system calls per batch instead of per datagram)");
  app.add_flag("--observer", o.observer,
               "also run an observer: re-simulate the region from its input stream, checking every tick's hash "
               "(logs in on --admin-port with the token in --admin-token-file)");
  app.add_option("--admin-port", o.admin_port, "the server's admin HTTP port (observer login)");
  app.add_option("--admin-token-file", o.admin_token_file,
                 "file holding the server's admin token (auth.admin_token_file; observer login)");
  CLI11_PARSE(app, argc, argv);
  std::string admin_token;
  if (o.observer) {
    std::ifstream file(o.admin_token_file);
    if (o.admin_port == 0 || o.admin_token_file.empty() || !std::getline(file, admin_token) || admin_token.empty()) {
      std::fprintf(stderr, "strata-bot: --observer needs --admin-port and a readable --admin-token-file\n");
      return 2;
    }
  }
  if (sodium_init() < 0) return 1;
  // Replies to 127.x.y.z reach us only from a server on this machine's loopback.
  o.shared_socket = !socket_per_bot && (o.host == "localhost" || o.host.rfind("127.", 0) == 0);
#if defined(__GLIBC__)
  // Thousands of clients allocate and free snapshot-sized blocks all the time: keep them in the
  // heap instead of mapping and faulting in fresh pages for each (profiled: ~20% of the bots' CPU).
  (void)mallopt(M_MMAP_THRESHOLD, 32 << 20);
  (void)mallopt(M_TRIM_THRESHOLD, 256 << 20);
#endif

  // Bots are split into groups, one thread each (--threads); a group waits on all its sockets with
  // one poll(2) and services every bot (update, send) at most every 2 ms.
  const uint32_t threads = std::max<uint32_t>(1, std::min(o.threads, o.bots));
  std::vector<std::unique_ptr<Group>> groups;  // before the bots: their sockets use the groups' io_contexts
  std::vector<Bot> bots(o.bots);
  for (uint32_t g = 0; g < threads; ++g) {
    groups.push_back(std::make_unique<Group>(o));
    Group& group = *groups.back();
    group.rng = sim::Rng::seeded(o.seed, 9 + g);
    if (!o.shared_socket) continue;
    std::string error;
    group.shared_udp = bot::SharedUdp::open(error);
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.ptr = nullptr;
    if (!group.shared_udp || ::epoll_ctl(group.epoll_fd, EPOLL_CTL_ADD, group.shared_udp->fd(), &event) != 0) {
      std::fprintf(stderr, "strata-bot: shared socket: %s\n", error.empty() ? std::strerror(errno) : error.c_str());
      return 2;
    }
  }
  uint64_t now = net::system_now_us();
  for (uint32_t i = 0; i < o.bots; ++i) {
    Group& group = *groups[i % threads];
    bots[i].name = o.name_prefix + std::to_string(i);
    bots[i].use_tcp = (static_cast<uint64_t>(i) * 1000 + 500) / o.bots < o.tcp_per_mille;
    bots[i].light = i % o.verify_every != 0;
    bots[i].udp_blocked = o.udp_blocked;
    group.bots.push_back(&bots[i]);
  }
  // The first bot logs in now (a server that is not there fails the run at once); the others
  // log in from their groups' loops, o.login_rate a second.
  std::string first_error;
  const auto first = sdk::http_login(o.host, o.http_port, bots[0].name, first_error, false, o.login_timeout_ms);
  if (!first || !connect_bot(bots[0], *groups[0], o, &*first, now, first_error)) {
    std::fprintf(stderr, "strata-bot: %s: %s\n", bots[0].name.c_str(), first_error.c_str());
    return 2;
  }
  std::unique_ptr<sdk::Observer> observer;
  std::unique_ptr<net::UdpSocket> observer_socket;
  if (o.observer) {
    std::string error;
    sdk::LoginCredentials credentials;
    credentials.observer = true;
    credentials.admin_token = admin_token;
    auto reply =
        sdk::http_login(o.host, o.admin_port, o.name_prefix + "-observer", error, credentials, o.login_timeout_ms);
    net::UdpConfig udp;
    observer_socket = reply ? net::UdpSocket::open(groups[0]->io, udp, error) : nullptr;
    observer = std::make_unique<sdk::Observer>();
    if (!reply || !observer_socket || !observer->connect(reply->token, now)) {
      std::fprintf(stderr, "strata-bot: observer: %s\n", error.c_str());
      return 2;
    }
  }
  const uint64_t start = net::system_now_us();
  const auto end = start + static_cast<uint64_t>(o.seconds * 1e6);
  o.end_us.store(end);
  std::vector<std::thread> workers;
  for (uint32_t g = 1; g < threads; ++g)
    workers.emplace_back([&, g] { run_group(*groups[g], o, start, end, nullptr, nullptr); });
  run_group(*groups[0], o, start, end, observer.get(), observer_socket.get(), &groups);
  for (auto& w : workers) w.join();
  for (auto& g : groups) g->login.stop();  // before the bots it names go
  uint64_t churned = 0, reconnects = 0, visible_sum = 0, visible_samples = 0, fallbacks = 0;
  uint64_t visible_late_sum = 0, visible_late_samples = 0;
  for (const auto& g : groups) {
    churned += g->churned, reconnects += g->reconnects, fallbacks += g->fallbacks;
    visible_sum += g->visible_sum, visible_samples += g->visible_samples;
    visible_late_sum += g->visible_late_sum, visible_late_samples += g->visible_late_samples;
  }
  // Final report.
  sdk::GameClientStats total;
  double rtt_sum = 0;
  uint64_t received_bytes = 0;  // every byte of the current connections (earlier sessions not kept)
  double loss_sum = 0;
  size_t with_stats = 0;
  size_t connected = 0;
  size_t welcomed = 0;
  for (Bot& bot : bots) {
    accumulate(total, bot.finished);
    if (!bot.client) continue;
    accumulate(total, bot.client->stats());
    connected += bot.client->state() == net::ClientState::connected ? 1 : 0;
    welcomed += bot.client->welcome() ? 1 : 0;
    if (const net::ConnectionStats* s = bot.client->net_client().stats()) {
      received_bytes += s->bytes_received;
      rtt_sum += s->rtt_ms;
      loss_sum += s->packet_loss;
      with_stats += 1;
    }
  }
  const double seconds = static_cast<double>(net::system_now_us() - start) / 1e6;
  rusage usage{};
  (void)::getrusage(RUSAGE_SELF, &usage);  // this process: is the load generator keeping up?
  const double cpu_seconds = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                             static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  size_t on_tcp = 0;
  for (const Bot& bot : bots) on_tcp += bot.client && bot.stream ? 1 : 0;
  std::printf(
      "strata-bot report: %u bots, %.1f s, %zu connected (%zu over TCP, %llu fell back from UDP), %zu welcomed, "
      "%llu churned, %llu reconnected\n",
      o.bots, seconds, connected, on_tcp, static_cast<unsigned long long>(fallbacks), welcomed,
      static_cast<unsigned long long>(churned), static_cast<unsigned long long>(reconnects));
  const size_t light_bots =
      static_cast<size_t>(std::count_if(bots.begin(), bots.end(), [](const Bot& b) { return b.light; }));
  if (light_bots == 0) {
    std::printf("  verification: full, every bot reconstructs and verifies every snapshot\n");
  } else {
    std::printf(
        "  verification: PARTIAL (--verify-every %u): %zu bots reconstruct and verify every snapshot; %zu light bots "
        "decrypt every snapshot, decode its header and acknowledge it, but apply and verify none\n",
        o.verify_every, o.bots - light_bots, light_bots);
  }
  std::array<uint64_t, 6> failures{};
  std::array<uint64_t, static_cast<size_t>(net::disconnect_reason_last) + 1> disconnects{};
  for (const auto& g : groups) {
    for (size_t i = 0; i < failures.size(); ++i) failures[i] += g->failures[i];
    for (size_t i = 0; i < disconnects.size(); ++i) disconnects[i] += g->disconnects[i];
  }
  static_assert(net::disconnect_reason_last == net::DisconnectReason::rate_limited, "name every reason below");
  std::printf(
      "  connections ended: failed %llu token invalid, %llu token expired, %llu denied, %llu handshake timeout, %llu "
      "wrong transport; lost %llu requested, %llu timeout, %llu protocol error, %llu server full, %llu shutdown, %llu "
      "kicked, %llu transport error, %llu replaced, %llu token reused, %llu refused, %llu rate limited\n",
      static_cast<unsigned long long>(failures[1]), static_cast<unsigned long long>(failures[2]),
      static_cast<unsigned long long>(failures[3]), static_cast<unsigned long long>(failures[4]),
      static_cast<unsigned long long>(failures[5]), static_cast<unsigned long long>(disconnects[1]),
      static_cast<unsigned long long>(disconnects[2]), static_cast<unsigned long long>(disconnects[3]),
      static_cast<unsigned long long>(disconnects[4]), static_cast<unsigned long long>(disconnects[5]),
      static_cast<unsigned long long>(disconnects[6]), static_cast<unsigned long long>(disconnects[7]),
      static_cast<unsigned long long>(disconnects[8]), static_cast<unsigned long long>(disconnects[9]),
      static_cast<unsigned long long>(disconnects[10]), static_cast<unsigned long long>(disconnects[11]));
  // Every connection that ended without the bot asking: lost after connecting, or a handshake
  // that failed (counted as they were noticed), plus those found ended at the end of the run.
  uint64_t lost = 0;
  for (size_t i = 2; i < disconnects.size(); ++i) lost += disconnects[i];
  for (size_t i = 1; i < failures.size(); ++i) lost += failures[i];
  for (const Bot& bot : bots) {
    const bool ended = bot.client && (bot.client->state() == net::ClientState::disconnected ||
                                      bot.client->state() == net::ClientState::failed);
    lost += ended ? 1 : 0;
  }
  uint64_t login_failures = 0;
  for (const auto& g : groups) login_failures += g->login_failures;
  std::printf("  lost connections: %llu; logins failed: %llu\n", static_cast<unsigned long long>(lost),
              static_cast<unsigned long long>(login_failures));
  std::printf(
      "  snapshots: %llu received, %llu applied and verified, %llu unverified (light; %llu header only), %llu full, "
      "%llu stale, %llu missing baseline, %llu refused\n",
      static_cast<unsigned long long>(total.snapshots_received),
      static_cast<unsigned long long>(total.snapshots_applied),
      static_cast<unsigned long long>(total.snapshots_unverified), static_cast<unsigned long long>(total.header_only),
      static_cast<unsigned long long>(total.full_snapshots), static_cast<unsigned long long>(total.stale_snapshots),
      static_cast<unsigned long long>(total.missing_baseline), static_cast<unsigned long long>(total.refused_messages));
  uint64_t checked = 0, exact = 0, error_sum = 0, corrections = 0, correction_sum = 0;
  int32_t error_max = 0;
  for (const Bot& bot : bots) {
    if (!bot.client) continue;
    const sdk::PredictionStats& p = bot.client->prediction_stats();
    checked += p.checked, exact += p.exact, error_sum += p.error_sum, corrections += p.corrections;
    correction_sum += p.correction_sum, error_max = std::max(error_max, p.error_max);
  }
  std::printf(
      "  prediction: %llu ticks checked, %.2f%% exact, mean error %.2f, max %d (1/256 tile); %.1f "
      "corrections/min/client, mean size %.1f\n",
      static_cast<unsigned long long>(checked),
      checked ? 100.0 * static_cast<double>(exact) / static_cast<double>(checked) : 0.0,
      checked ? static_cast<double>(error_sum) / static_cast<double>(checked) : 0.0, error_max,
      static_cast<double>(corrections) / (seconds / 60.0) /
          static_cast<double>(std::max<size_t>(1, o.bots - light_bots)),
      corrections ? static_cast<double>(correction_sum) / static_cast<double>(corrections) : 0.0);
  std::printf("  checksum mismatches: %llu\n", static_cast<unsigned long long>(total.checksum_mismatches));
  std::printf("  bot process: %.1f s of CPU in %.1f s (%.0f%% of one core), %ld MiB peak RSS\n", cpu_seconds, seconds,
              100.0 * cpu_seconds / seconds, usage.ru_maxrss / 1024);
  std::printf("  inputs submitted: %llu; chat: %llu lines said, %llu heard\n",
              static_cast<unsigned long long>(total.inputs_submitted), static_cast<unsigned long long>(total.chat_sent),
              static_cast<unsigned long long>(total.chat_received));
  std::printf(
      "  per client: %.0f snapshot bytes/s, %.0f bytes/s received in all (packets, headers, MACs), %.1f entities in "
      "view of the verifying bots (%.1f over the last third), mean rtt %.1f ms, mean loss %.3f\n",
      static_cast<double>(total.snapshot_bytes) / seconds / o.bots,
      static_cast<double>(received_bytes) / seconds / o.bots,
      visible_samples ? static_cast<double>(visible_sum) / static_cast<double>(visible_samples) : 0.0,
      visible_late_samples ? static_cast<double>(visible_late_sum) / static_cast<double>(visible_late_samples) : 0.0,
      with_stats ? rtt_sum / static_cast<double>(with_stats) : 0.0,
      with_stats ? loss_sum / static_cast<double>(with_stats) : 0.0);
  for (Bot& bot : bots) {
    if (bot.client)
      bot.client->disconnect(net::system_now_us()), bot.client->send_packets(net::system_now_us(), sink_of(bot)),
          flush(bot);
  }
  if (observer) {
    const sdk::ObserverStats& os = observer->stats();
    std::printf(
        "  observer: started at tick %llu, %llu ticks re-simulated and verified, %llu hash mismatches (first at tick "
        "%llu), %llu gaps, %llu refused, connected at the end: %s%s%s\n",
        static_cast<unsigned long long>(os.start_tick), static_cast<unsigned long long>(os.ticks_verified),
        static_cast<unsigned long long>(os.hash_mismatches), static_cast<unsigned long long>(os.first_mismatch_tick),
        static_cast<unsigned long long>(os.gaps), static_cast<unsigned long long>(os.refused_messages),
        observer->state() == net::ClientState::connected ? "yes" : "no",
        observer->last_error().empty() ? "" : "; last error: ", observer->last_error().c_str());
    observer->disconnect(net::system_now_us());
    observer->send_packets(net::system_now_us(), *observer_socket);
    observer_socket->flush();
    if (os.hash_mismatches > 0 || os.gaps > 0) return 5;
    if (os.ticks_verified == 0) return 6;
  }
  if (total.checksum_mismatches > 0) return 3;
  if (checked > 0 && static_cast<double>(exact) < o.prediction_exact_min * static_cast<double>(checked)) {
    std::printf("  prediction: %.2f%% exact is below the required %.2f%%\n",
                100.0 * static_cast<double>(exact) / static_cast<double>(checked), 100.0 * o.prediction_exact_min);
    return 7;
  }
  if (o.churn_per_mille == 0 && connected != o.bots) return 4;
  if (o.udp_blocked && (on_tcp != o.bots || fallbacks < o.bots)) {
    std::printf("  --udp-blocked: %zu of %u bots connected over TCP, %llu fell back\n", on_tcp, o.bots,
                static_cast<unsigned long long>(fallbacks));
    return 8;
  }
  return 0;
}
