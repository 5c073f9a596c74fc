// tools/hostile/attacks.cpp — the attacks of strata-hostile (see hostile.h). Each runs on a thread of
// its own until its count is spent or the run is over, paces itself, and counts what it sent and
// what it saw in its Report. Nothing here waits without a bound.
#include "tools/hostile/io.h"

#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <functional>
#include <random>
#include <thread>

#include "net/limits.h"
#include "schema/client/codec.h"

namespace strata::hostile {

namespace {

constexpr int connect_timeout_ms = 1000;
constexpr int http_timeout_ms = 2000;
constexpr int session_timeout_ms = 5000;
constexpr uint32_t session_reopens_max = 20;  // a session the server ends is opened again this often at most

// Sleeps until the i-th event of a `rate`-per-second schedule that began at start_us (or the run ends).
void pace(const Run& run, uint64_t start_us, uint64_t i, uint32_t rate) {
  if (rate == 0) return;
  const uint64_t due = start_us + i * 1'000'000 / rate;
  while (!run.over()) {
    const uint64_t now = steady_now_us();
    if (now >= due) return;
    std::this_thread::sleep_for(std::chrono::microseconds(std::min<uint64_t>(due - now, 50'000)));
  }
}

// Waits until the run is over (attacks that hold what they opened).
void hold(const Run& run, const std::function<void()>& every_second) {
  uint64_t next = steady_now_us();
  while (!run.over()) {
    if (steady_now_us() >= next) {
      every_second();
      next += 1'000'000;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

int udp_socket(const Run& run, uint16_t port) {
  const int fd = ::socket(run.target.family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  const sockaddr_storage to = run.target.with_port(port);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&to), run.target.address_size) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

void send_udp(int fd, std::span<const uint8_t> bytes, Report& report) {
  if (::send(fd, bytes.data(), bytes.size(), MSG_DONTWAIT) >= 0) {
    report.add("sent");
    report.add("bytes", bytes.size());
  } else {
    report.add("send_errors");
  }
}

// Garbage: random bytes of random size (some past the datagram limit), half of them behind a
// plausible first byte (a packet type) so that they get past the cheapest check.
void garbage(Run& run, Report& report) {
  const int fd = udp_socket(run, run.options.udp_port);
  if (fd < 0) return report.add("socket_errors");
  std::mt19937_64 rng(1);
  std::vector<uint8_t> bytes(net::datagram_size_max + 200);
  const uint64_t start = steady_now_us();
  for (uint64_t i = 0; i < run.options.garbage && !run.over(); ++i) {
    pace(run, start, i, run.options.datagram_rate);
    const size_t size = rng() % bytes.size();
    for (size_t b = 0; b < size; ++b) bytes[b] = static_cast<uint8_t>(rng());
    if (size > 0 && i % 2 == 0) bytes[0] = static_cast<uint8_t>(rng() % 8);
    if (size > net::datagram_size_max) report.add("oversized");
    send_udp(fd, std::span(bytes).first(size), report);
  }
  ::close(fd);
}

// A logged-in UDP session whose first packets (the connection request, the response, data
// packets) are recorded: what the truncation and replay attacks send.
bool recorded_session(Run& run, Session& session, const std::string& name, Report& report) {
  std::string error;
  if (!session.open(run, name, false, 0, session_timeout_ms, error)) {
    report.add("session_failed");
    return false;
  }
  const uint64_t until = steady_now_us() + 1'000'000;  // a second of play: data packets to replay
  while (steady_now_us() < until && !run.over()) {
    session.pump();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  report.add("packets_recorded", session.captured().size());
  return !session.captured().empty();
}

// Truncated: prefixes of real handshake and data packets, from a socket of their own.
void truncated(Run& run, Report& report) {
  Session session;
  if (!recorded_session(run, session, run.options.name_prefix + "-truncated", report)) return;
  const int fd = udp_socket(run, run.options.udp_port);
  if (fd < 0) return report.add("socket_errors");
  std::mt19937_64 rng(2);
  const auto& packets = session.captured();
  const uint64_t start = steady_now_us();
  for (uint64_t i = 0; i < run.options.truncated && !run.over(); ++i) {
    pace(run, start, i, run.options.datagram_rate);
    const auto& packet = packets[i % packets.size()];
    send_udp(fd, std::span(packet).first(rng() % packet.size()), report);
    if (i % 64 == 0) session.pump();
  }
  ::close(fd);
  report.add(session.connected() ? "session_alive_at_end" : "session_lost");
}

// Replayed: the recorded packets sent again, from the session's own address (duplicates, old
// sequences) and from other sockets (a stolen connection request; data of an unknown peer).
void replayed(Run& run, Report& report) {
  Session session;
  if (!recorded_session(run, session, run.options.name_prefix + "-replayed", report)) return;
  std::vector<int> others;
  for (int i = 0; i < 16; ++i) {
    if (const int fd = udp_socket(run, run.options.udp_port); fd >= 0) others.push_back(fd);
  }
  const auto& packets = session.captured();
  const uint64_t start = steady_now_us();
  for (uint64_t i = 0; i < run.options.replayed && !run.over(); ++i) {
    pace(run, start, i, run.options.datagram_rate);
    const auto& packet = packets[i % packets.size()];
    if (i % 2 == 0 || others.empty()) {
      session.send_raw(packet);
      report.add("sent_from_owner");
      report.add("bytes", packet.size());
    } else {
      send_udp(others[i % others.size()], packet, report);
      report.add("sent_from_others");
    }
    if (i % 64 == 0) session.pump();
  }
  for (const int fd : others) ::close(fd);
  report.add(session.connected() ? "session_alive_at_end" : "session_lost");
}

// Holds `fds` until the run is over, counting the streams the server closes.
// Closes the streams still open at the end of an attack, counting them.
void close_streams(const std::vector<int>& fds, Report& report) {
  size_t open = 0;
  for (const int fd : fds) {
    if (fd < 0) continue;
    open += 1;
    ::close(fd);
  }
  report.add("open_at_end", open);
}

void hold_streams(Run& run, std::vector<int>& fds, Report& report) {
  hold(run, [&] {
    for (int& fd : fds) {
      if (fd >= 0 && peer_closed(fd)) {
        report.add("closed_by_server");
        ::close(fd);
        fd = -1;
      }
    }
  });
  close_streams(fds, report);
}

// Opens `count` TCP streams to `port` (at most 500 a second), each then given `first_bytes`.
std::vector<int> open_streams(Run& run, uint16_t port, uint32_t count, Report& report,
                              const std::function<std::string(uint64_t)>& first_bytes) {
  std::vector<int> fds;
  const uint64_t start = steady_now_us();
  for (uint64_t i = 0; i < count && !run.over(); ++i) {
    pace(run, start, i, 500);
    const int fd = tcp_connect(run.target, port, connect_timeout_ms);
    if (fd < 0) {
      report.add("connect_failed");
      continue;
    }
    report.add("opened");
    const std::string bytes = first_bytes ? first_bytes(i) : std::string();
    if (!bytes.empty()) {
      (void)::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      report.add("bytes", bytes.size());
    }
    fds.push_back(fd);
  }
  return fds;
}

// Idle TCP: streams to the netchannel's TCP port that never say a word.
void idle_tcp(Run& run, Report& report) {
  std::vector<int> fds = open_streams(run, run.options.tcp_port, run.options.idle_streams, report, nullptr);
  hold_streams(run, fds, report);
}

// Half-open TCP: streams that start a frame and never finish it (half a length, a length and a
// few bytes), or announce a length the server must refuse (0, over tcp_frame_body_max).
void half_open_tcp(Run& run, Report& report) {
  std::vector<int> fds = open_streams(run, run.options.tcp_port, run.options.half_open_streams, report, [](uint64_t i) {
    constexpr uint16_t big = net::tcp_frame_body_max;
    switch (i % 4) {
      case 0: return std::string(1, '\x40');  // half a length
      case 1: return std::string{static_cast<char>(big & 0xFF), static_cast<char>(big >> 8)} + std::string(10, 'x');
      case 2: return std::string("\x00\x00", 2);                          // zero length
      default: return std::string("\xff\xff", 2) + std::string(16, 'y');  // over the frame limit
    }
  });
  hold_streams(run, fds, report);
}

// Slow HTTP (slow loris): requests to the public HTTP port that send one more header byte every
// two seconds and never end.
void slow_http(Run& run, Report& report) {
  std::vector<int> fds = open_streams(run, run.options.http_port, run.options.slow_http, report, [](uint64_t) {
    return std::string("POST /api/login HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ");
  });
  uint64_t second = 0;
  hold(run, [&] {
    second += 1;
    for (int& fd : fds) {
      if (fd < 0) continue;
      if (peer_closed(fd)) {
        report.add("closed_by_server");
        ::close(fd);
        fd = -1;
      } else if (second % 2 == 0 && ::send(fd, "a", 1, MSG_NOSIGNAL | MSG_DONTWAIT) == 1) {
        report.add("bytes");
      }
    }
  });
  close_streams(fds, report);
}

// Hostile names (JSON string contents, raw bytes as sent) and hostile bodies.
std::vector<std::string> hostile_bodies(const std::string& online_name) {
  const std::string long_name(5000, 'x');
  std::vector<std::string> names = {
      "a\\\"quote",
      "\"",
      std::string("nul\0byte", 8),
      "nul\\u0000escaped",
      long_name,
      "\xff\xfe\xfd",
      "\xc0\xaf",
      "\xed\xa0\x80",  // overlong slash, a UTF-16 surrogate in UTF-8
      "\\ud800",
      "\xf0\x9f\x98\x80\xf0\x9f\x94\xa5"
      "emoji",
      "\x01\x02\x1b[31mred",
      "x\",\"role\":\"observer",
      "",
      "   ",
      "../../etc/passwd",
      "<script>alert(1)</script>",
      "' OR 1=1 --",
      "%s%s%s%n",
      std::string(70'000, 'y'),
      online_name,  // the name of one of the tool's own players, online meanwhile
  };
  std::vector<std::string> bodies;
  for (const std::string& name : names) bodies.push_back("{\"name\":\"" + name + "\"}");
  bodies.push_back("{\"name\":\"spy\",\"role\":\"observer\"}");  // an observer without a credential
  bodies.push_back("{");
  bodies.push_back("[]");
  bodies.push_back("null");
  bodies.push_back("{\"name\":12}");
  bodies.push_back("{\"name\":\"a\",\"name\":\"b\"}");
  bodies.push_back(std::string(10'000, '[') + std::string(10'000, ']'));
  bodies.push_back(std::string("\0\0\0\0", 4));
  return bodies;
}

// Login flood: POST /api/login with hostile names and bodies (and some valid, unique names).
void login_flood(Run& run, Report& report) {
  // (not a bot's name: a login that takes an online player's name is the auth tests' business; the
  // tool's own player is the one that would be kicked or keep its name)
  const std::vector<std::string> bodies = hostile_bodies(run.options.name_prefix + "-oversized");
  const uint64_t start = steady_now_us();
  for (uint64_t i = 0; i < run.options.logins && !run.over(); ++i) {
    pace(run, start, i, run.options.login_rate);
    std::string request;
    if (i % 8 == 7) {
      // A malformed request: a length that does not match, or a huge one.
      request = i % 16 == 7 ? "POST /api/login HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n{}"
                            : "POST /api/login HTTP/1.1\r\nContent-Length: -5\r\nConnection: close\r\n\r\n{}";
    } else {
      std::string body = bodies[i % bodies.size()];
      if (i % bodies.size() == 0 && i > 0)
        body = "{\"name\":\"" + run.options.name_prefix + "-flood" + std::to_string(i) + "\"}";
      request = login_request(body);
    }
    const HttpResult r = http_exchange(run.target, run.options.http_port, request, http_timeout_ms);
    report.add("sent");
    report.add("bytes", request.size());
    report.add(r.status != 0 ? "status_" + std::to_string(r.status) : r.timed_out ? "timed_out" : "no_answer");
  }
}

// The oversized and wrong-kind messages a logged-in client sends.
std::vector<std::vector<uint8_t>> hostile_messages() {
  std::mt19937_64 rng(3);
  std::vector<std::vector<uint8_t>> messages;
  auto random_bytes = [&](size_t size) {
    std::vector<uint8_t> bytes(size);
    for (auto& b : bytes) b = static_cast<uint8_t>(rng());
    return bytes;
  };
  std::vector<uint8_t> out;
  view::encode_observer_part(0, 1, random_bytes(150 * 1024), out);  // a server->observer kind, large
  messages.push_back(out);
  // A packing bomb: 8 MiB of zero bytes packs to a few kB; unpacking costs the server 8 MiB.
  view::encode_observer_part(0, 1, std::vector<uint8_t>(size_t{8} << 20, 0), out);
  messages.push_back(out);
  view::encode_observer_tick(1, std::vector<uint8_t>(100 * 1024, 0), 7, out);
  messages.push_back(out);
  view::encode_welcome(view::Welcome{}, out);
  messages.push_back(out);
  view::encode_snapshot_message(view::ClientSnapshot{}, out);
  messages.push_back(out);
  view::encode_chat(view::ChatLine{1, 1, "not yours to say"}, out);
  messages.push_back(out);
  view::encode_checksum_report(view::ChecksumReport{1, 2, 3}, out);  // a made-up mismatch
  messages.push_back(out);
  std::vector<view::InputEntry> inputs(view::input_batch_max * 4);
  for (size_t i = 0; i < inputs.size(); ++i) inputs[i] = {static_cast<uint32_t>(i + 1), 1, sim::MoveCommand{}};
  view::encode_inputs(inputs, out);  // over the batch limit
  messages.push_back(out);
  view::encode_chat_send(std::string(5000, 'z'), out);  // past the chat limit (the encoder does not check)
  messages.push_back(out);
  messages.push_back(random_bytes(net::message_size_max));  // the largest message, garbage
  messages.push_back(random_bytes(1));
  messages.push_back({});
  messages.push_back({200, 1, 2, 3});  // an unknown kind
  return messages;
}

// Opens (again) a session for an attack that the server may end; false once over the bound.
bool reopen(Run& run, std::unique_ptr<Session>& session, const std::string& name, uint32_t& reopens, Report& report) {
  if (session && session->connected()) return true;
  if (session) report.add("sessions_ended_by_server");
  if (reopens++ >= session_reopens_max || run.over()) return false;
  session = std::make_unique<Session>();
  std::string error;
  if (!session->open(run, name, false, 0, session_timeout_ms, error)) {
    report.add("session_failed");
    return false;
  }
  report.add("sessions_opened");
  return true;
}

// Oversized and wrong-kind messages from a logged-in client (reliable and unreliable).
void oversized(Run& run, Report& report) {
  const std::vector<std::vector<uint8_t>> messages = hostile_messages();
  std::unique_ptr<Session> session;
  uint32_t reopens = 0;
  const std::string name = run.options.name_prefix + "-oversized";
  const uint64_t start = steady_now_us();
  for (uint64_t i = 0; i < run.options.oversized && !run.over(); ++i) {
    if (!reopen(run, session, name, reopens, report)) break;
    pace(run, start, i, 50);
    const auto& message = messages[i % messages.size()];
    const auto channel = i % 3 == 0 ? net::Channel::unreliable_sequenced : net::Channel::reliable_ordered;
    count_send(report, "messages", session->client().send(channel, message));
    report.add("bytes", message.size());
    session->pump();
  }
  if (!session) return;
  hold(run, [&] { session->pump(); });
  report.add(session->connected() ? "session_alive_at_end" : "session_lost");
}

// Input flood: logged-in clients send batches of inputs all stamped for one tick (a new one once
// it has passed), far more than the sim applies.
void input_flood(Run& run, Report& report) {
  std::vector<std::unique_ptr<Session>> sessions;
  for (uint32_t s = 0; s < run.options.flood_sessions && !run.over(); ++s) {
    auto session = std::make_unique<Session>();
    std::string error;
    if (!session->open(run, run.options.name_prefix + "-flood-" + std::to_string(s), false, 0, session_timeout_ms,
                       error)) {
      report.add("session_failed");
      continue;
    }
    sessions.push_back(std::move(session));
  }
  if (sessions.empty()) return;
  uint64_t target_tick = 0;
  uint32_t seq = 1;
  std::vector<uint8_t> out;
  std::vector<view::InputEntry> batch(view::input_batch_max);
  const uint64_t start = steady_now_us();
  for (uint64_t i = 0; i < run.options.input_flood && !run.over(); ++i) {
    pace(run, start, i, 400);
    Session& session = *sessions[i % sessions.size()];
    if (!session.connected()) {
      report.add("batches_not_sent_session_lost");
      continue;
    }
    const uint64_t now_tick = session.server_tick_now();
    if (target_tick <= now_tick + 1) {
      target_tick = now_tick + 10;
      report.add("ticks_targeted");
    }
    for (auto& entry : batch)
      entry = {seq++, target_tick, sim::MoveCommand{{}, 0, sim::Direction::e, sim::MoveMode::walk}};
    view::encode_inputs(batch, out);
    count_send(report, "batches", session.client().send(net::Channel::unreliable_sequenced, out));
    report.add("inputs", batch.size());
    session.pump();
  }
  hold(run, [&] {
    for (auto& s : sessions) s->pump();
  });
  for (auto& s : sessions) report.add(s->connected() ? "sessions_alive_at_end" : "sessions_lost");
}

// Stop reading: TCP clients that log in, then read only a trickle (enough to stay connected,
// far less than the server sends), so that the server's send queue for them fills.
void stop_reading(Run& run, Report& report) {
  std::vector<std::unique_ptr<Session>> sessions;
  for (uint32_t s = 0; s < run.options.stop_reading && !run.over(); ++s) {
    auto session = std::make_unique<Session>();
    std::string error;
    const bool observer = s < run.options.stop_reading_observers;
    if (!session->open(run, run.options.name_prefix + "-stop-reading-" + std::to_string(s), true, 1024,
                       session_timeout_ms, error, observer)) {
      report.add(observer ? "observer_sessions_failed" : "session_failed");
      continue;
    }
    report.add(observer ? "observer_sessions_opened" : "sessions_opened");
    sessions.push_back(std::move(session));
  }
  hold(run, [&] {
    for (auto& s : sessions) s->pump(256);  // 256 bytes a second
  });
  for (auto& s : sessions) {
    report.add("frames_not_sent", s->stream_frames_dropped());
    report.add(s->stream_closed() ? "closed_by_server" : "open_at_end");
  }
}

}  // namespace

const std::vector<AttackEntry>& attacks() {
  static const std::vector<AttackEntry> all = {
      {"garbage", garbage, "random UDP datagrams (some over the size limit)"},
      {"truncated", truncated, "prefixes of real handshake and data packets"},
      {"replayed", replayed, "recorded packets sent again, from their owner and from other addresses"},
      {"idle_tcp", idle_tcp, "TCP streams that never send"},
      {"half_open_tcp", half_open_tcp, "TCP streams holding a partial or refused frame"},
      {"slow_http", slow_http, "HTTP requests that never finish (a byte every 2 s)"},
      {"login_flood", login_flood, "POST /api/login with hostile names and bodies"},
      {"oversized", oversized, "oversized and server->client messages from a logged-in client"},
      {"input_flood", input_flood, "input batches aimed at one tick from logged-in clients"},
      {"stop_reading", stop_reading, "TCP clients that log in and stop reading"},
  };
  return all;
}

void probe(Run& run, Latencies& healthz, Latencies& login, Report& report) {
  uint64_t n = 0;
  const auto interval_us = static_cast<uint64_t>(run.options.probe_interval_s * 1e6);
  const uint64_t start = steady_now_us();
  while (!run.over()) {
    const HttpResult h =
        http_exchange(run.target, run.options.http_port,
                      "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", http_timeout_ms);
    healthz.add(h.latency_ms);
    report.add(h.status == 200 ? "healthz_ok" : "healthz_failed");
    const HttpResult l =
        http_exchange(run.target, run.options.http_port,
                      login_request("{\"name\":\"" + run.options.name_prefix + "-probe" + std::to_string(n) + "\"}"),
                      http_timeout_ms);
    login.add(l.latency_ms);
    report.add(l.status == 200 ? "login_ok" : "login_failed");
    n += 1;
    const uint64_t due = start + n * interval_us;
    while (!run.over() && steady_now_us() < due) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace strata::hostile
