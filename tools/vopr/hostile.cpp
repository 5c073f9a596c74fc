// tools/vopr/hostile.cpp — see hostile.h.
#include "tools/vopr/hostile.h"

#include <algorithm>
#include <string>

#include "schema/client/messages.h"
#include "tools/vopr/addresses.h"

namespace strata::vopr {

class HostilePeers::PeerSink final : public net::DatagramSink {
 public:
  PeerSink(const Send& send, net::Address from) : send_(send), from_(from) {}
  void send_datagram(net::TransportKind, const net::Address&, std::span<const uint8_t> data) override {
    send_(from_, data);
  }

 private:
  const Send& send_;
  net::Address from_;
};

HostilePeers::HostilePeers(uint64_t seed, Send send, Captured captured)
    : rng_(seed), send_(std::move(send)), captured_(std::move(captured)) {}

HostilePeers::~HostilePeers() = default;

void HostilePeers::start(const Fault& fault, uint64_t until, std::optional<net::ConnectToken> token, uint64_t now_us) {
  Peer peer;
  peer.kind = fault.kind;
  peer.until = until;
  peer.amount = fault.amount;
  peer.target = fault.target;
  peer.address = peer_address(started_++);
  if (token) {
    peer.sink = std::make_unique<PeerSink>(send_, peer.address);
    peer.net = std::make_unique<net::Client>(net::default_client_config());
    (void)peer.net->connect(*token, now_us);
  }
  peers_.push_back(std::move(peer));
}

void HostilePeers::turn(uint64_t tick, uint64_t node_tick, uint64_t turns_per_tick) {
  for (Peer& peer : peers_) {
    if (tick >= peer.until) continue;
    const uint64_t count = static_cast<uint64_t>(peer.amount) / turns_per_tick + 1;  // `amount` is per tick
    const bool connected = peer.net && peer.net->state() == net::ClientState::connected;
    switch (peer.kind) {
      case FaultKind::garbage: garbage(count); break;
      case FaultKind::replay: replay(peer, count); break;
      case FaultKind::flood:
        if (connected) flood(peer, count, node_tick);
        break;
      case FaultKind::bad_messages:
        // At most two a turn: a reliable window full of fragments makes the peer's own resend scan
        // quadratic (Connection::pack_reliable), which costs the run and tests nothing of the node.
        for (uint64_t i = 0; connected && i < std::min<uint64_t>(count, 2); ++i) bad_message(peer);
        break;
      default: break;
    }
  }
}

void HostilePeers::end(uint64_t tick, uint64_t now_us) {
  for (Peer& peer : peers_) {
    if (peer.net && tick >= peer.until) peer.net->disconnect(net::DisconnectReason::requested, now_us);
  }
  std::erase_if(peers_, [&](const Peer& p) { return tick >= p.until + 20; });
}

void HostilePeers::receive(const net::Address& to, const net::Address& from, std::span<const uint8_t> data,
                           uint64_t now_us) {
  for (Peer& peer : peers_) {
    if (peer.net && peer.address == to) peer.net->receive(from, data, now_us);
  }
}

void HostilePeers::update(uint64_t now_us) {
  for (Peer& peer : peers_) {
    if (!peer.net) continue;
    peer.net->update(now_us);
    peer.net->send_packets(now_us, *peer.sink);
  }
}

// Random bytes of random lengths from random addresses; half start with a packet type the
// netchannel knows, to get past its first check into the parsers.
void HostilePeers::garbage(uint64_t count) {
  for (uint64_t i = 0; i < count; ++i) {
    scratch_.resize(1 + rng_.below(1300));
    for (uint8_t& b : scratch_) b = static_cast<uint8_t>(rng_.next_u64());
    if (rng_.below(2) == 0) scratch_[0] = static_cast<uint8_t>(rng_.below(8));
    const auto c = static_cast<uint8_t>(rng_.below(256));
    const auto d = static_cast<uint8_t>(rng_.below(256));
    send_(stranger_address(c, d, static_cast<uint16_t>(1024 + rng_.below(60000))), scratch_);
    datagrams_ += 1;
  }
}

// A victim's own datagrams again: from its address (the replay window must drop them) and from a
// stranger's (no session there).
void HostilePeers::replay(const Peer& peer, uint64_t count) {
  const std::vector<std::vector<uint8_t>>& captured = captured_(static_cast<size_t>(peer.target));
  for (uint64_t i = 0; i < count && !captured.empty(); ++i) {
    const std::vector<uint8_t>& d = captured[rng_.below(captured.size())];
    send_(rng_.below(2) == 0 ? client_address(static_cast<size_t>(peer.target)) : foreign_address(), d);
    datagrams_ += 1;
  }
}

// Valid input messages as fast as `amount` says: the rate limits and the scheduler's per-player
// budget must hold; inputs aimed at the next ticks and at any tick at all.
void HostilePeers::flood(Peer& peer, uint64_t count, uint64_t node_tick) {
  for (uint64_t i = 0; i < count; ++i) {
    std::vector<view::InputEntry> inputs(1 + rng_.below(4));
    for (view::InputEntry& e : inputs) {
      e.seq = static_cast<uint32_t>(rng_.next_u64());
      e.tick = rng_.below(2) == 0 ? node_tick + rng_.below(10) : rng_.next_u64();
      e.command = sim::MoveCommand{{}, 0, static_cast<sim::Direction>(rng_.below(9)), sim::MoveMode::run};
    }
    view::encode_inputs(inputs, scratch_);
    // Mostly unreliable (see turn(): a full reliable window is the peer's cost, not the node's).
    (void)peer.net->send(rng_.below(8) != 0 ? net::Channel::unreliable_sequenced : net::Channel::reliable_ordered,
                         scratch_);
    messages_ += 1;
  }
}

// One message a well-behaved client never sends.
void HostilePeers::bad_message(Peer& peer) {
  scratch_.clear();
  switch (rng_.below(7)) {
    case 0:
      scratch_.resize(rng_.below(2000));
      for (uint8_t& b : scratch_) b = static_cast<uint8_t>(rng_.next_u64());
      break;
    case 1: view::encode_welcome(view::Welcome{1, rng_.next_u64(), 20, 1, 2, 3, 4}, scratch_); break;
    case 2: {
      const std::vector<uint8_t> input(rng_.below(64), 0xab);
      view::encode_observer_tick(rng_.next_u64(), input, rng_.next_u64(), scratch_);
      break;
    }
    case 3: view::encode_chat_send(std::string(1000 + rng_.below(30'000), 'a'), scratch_); break;  // beyond its budget
    case 4: {
      std::vector<view::InputEntry> inputs(1);
      inputs[0].seq = 0;
      inputs[0].tick = rng_.next_u64();
      inputs[0].command = sim::BreakCommand{sim::PlayerId{1}, 7, sim::CellPos{-5000, 70000}, sim::Layer::ceiling, {}};
      view::encode_inputs(inputs, scratch_);
      break;
    }
    case 5: view::encode_checksum_report(view::ChecksumReport{rng_.next_u64(), 1, 2}, scratch_); break;
    default: view::encode_chat_send(std::string("\xff\xfe\x00 bad", 8), scratch_); break;
  }
  (void)peer.net->send(rng_.below(3) == 0 ? net::Channel::unreliable_sequenced : net::Channel::reliable_ordered,
                       scratch_);
  messages_ += 1;
}

}  // namespace strata::vopr
