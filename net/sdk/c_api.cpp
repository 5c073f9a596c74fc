// net/sdk/c_api.cpp — the C ABI (strata_client.h) over GameClient and a UDP socket of its own.
#include <utility>  // before Asio (Boost 1.74 + C++20 + GCC 12)

#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <cstring>
#include <deque>
#include <memory>

#include "net/sdk/game_client.h"
#include "net/sdk/login_client.h"
#include "net/sdk/strata_client.h"
#include "net/transport.h"

struct strata_client {
  boost::asio::io_context io;
  std::unique_ptr<strata::net::UdpSocket> socket;
  std::unique_ptr<strata::sdk::GameClient> game;
  std::deque<strata::view::ChatLine> heard;  // taken from the client, not yet read through the ABI
};

namespace {
using namespace strata;
uint64_t now() { return net::system_now_us(); }
}  // namespace

extern "C" {

int strata_login(const char* host, uint16_t http_port, const char* name, uint8_t* token, size_t* token_size,
                 uint32_t* player) {
  if (name == nullptr) return -1;
  return strata_login_credential(host, http_port, name, nullptr, nullptr, token, token_size, player);
}

int strata_login_credential(const char* host, uint16_t http_port, const char* name, const char* password,
                            const char* ticket, uint8_t* token, size_t* token_size, uint32_t* player) {
  if (host == nullptr || token == nullptr || token_size == nullptr) return -1;
  std::string error;
  sdk::LoginCredentials credentials;
  if (password != nullptr) credentials.password = password;
  if (ticket != nullptr) credentials.ticket = ticket;
  auto reply = sdk::http_login(host, http_port, name != nullptr ? name : "", error, credentials);
  if (!reply || reply->token.size() > *token_size) return -1;
  std::memcpy(token, reply->token.data(), reply->token.size());
  *token_size = reply->token.size();
  if (player != nullptr) *player = reply->player;
  return 0;
}

strata_client* strata_client_create(void) {
  auto client = std::make_unique<strata_client>();
  std::string error;
  client->socket = net::UdpSocket::open(client->io, net::UdpConfig{}, error);
  if (!client->socket) return nullptr;
  client->game = std::make_unique<sdk::GameClient>(sdk::default_game_client_config());
  return client.release();
}

void strata_client_destroy(strata_client* client) {
  if (client == nullptr) return;
  client->game->disconnect(now());
  client->game->send_packets(now(), *client->socket);
  client->socket->flush();
  delete client;
}

int strata_client_connect(strata_client* client, const uint8_t* token, size_t token_size) {
  if (client == nullptr || token == nullptr) return -1;
  return client->game->connect(std::span<const uint8_t>(token, token_size), now()) ? 0 : -1;
}

void strata_client_update(strata_client* client) {
  if (client == nullptr) return;
  const uint64_t t = now();
  client->socket->receive(
      [&](const net::Address& from, std::span<const uint8_t> data) { client->game->receive(from, data, t); });
  client->game->update(t);
  client->game->send_packets(t, *client->socket);
  client->socket->flush();
}

void strata_client_disconnect(strata_client* client) {
  if (client == nullptr) return;
  client->game->disconnect(now());
  client->game->send_packets(now(), *client->socket);
  client->socket->flush();
}

int strata_client_state(const strata_client* client) {
  if (client == nullptr) return STRATA_STATE_FAILED;
  switch (client->game->state()) {
    case net::ClientState::idle: return STRATA_STATE_IDLE;
    case net::ClientState::sending_request:
    case net::ClientState::sending_response: return STRATA_STATE_CONNECTING;
    case net::ClientState::connected: return STRATA_STATE_CONNECTED;
    case net::ClientState::disconnected: return STRATA_STATE_DISCONNECTED;
    case net::ClientState::failed: return STRATA_STATE_FAILED;
  }
  return STRATA_STATE_FAILED;
}

int strata_client_reason(const strata_client* client) {
  static_assert(static_cast<int>(net::disconnect_reason_last) == STRATA_REASON_RATE_LIMITED);
  if (client == nullptr) return STRATA_REASON_NONE;
  return static_cast<int>(client->game->net_client().disconnect_reason());
}

uint32_t strata_client_player(const strata_client* client) {
  return client != nullptr && client->game->welcome() ? client->game->welcome()->player : 0;
}

uint64_t strata_client_tick(const strata_client* client) {
  return client != nullptr && client->game->view() != nullptr ? client->game->view()->tick : 0;
}

size_t strata_client_entities(const strata_client* client, strata_entity* out, size_t max) {
  if (client == nullptr || client->game->view() == nullptr) return 0;
  const auto& entities = client->game->view()->entities;
  for (size_t i = 0; i < std::min(max, entities.size()) && out != nullptr; ++i) {
    const view::EntityState& e = entities[i];
    out[i] = strata_entity{
        static_cast<uint8_t>(e.key.kind), e.key.region, e.key.id, e.x, e.y, e.vx, e.vy, e.facing, e.health};
  }
  return entities.size();
}

uint32_t strata_client_move(strata_client* client, int direction, int run) {
  if (client == nullptr || direction < 0 || direction >= static_cast<int>(sim::Direction::count)) return 0;
  return client->game->submit(
      sim::MoveCommand{
          {}, 0, static_cast<sim::Direction>(direction), run != 0 ? sim::MoveMode::run : sim::MoveMode::walk},
      now());
}

uint32_t strata_client_place(strata_client* client, int32_t cell_x, int32_t cell_y, uint8_t block_kind) {
  if (client == nullptr) return 0;
  return client->game->submit(sim::PlaceCommand{{}, 0, {cell_x, cell_y}, sim::Layer::active, block_kind, {}}, now());
}

uint32_t strata_client_break(strata_client* client, int32_t cell_x, int32_t cell_y) {
  if (client == nullptr) return 0;
  return client->game->submit(sim::BreakCommand{{}, 0, {cell_x, cell_y}, sim::Layer::active, {}}, now());
}

uint32_t strata_client_interact(strata_client* client, int32_t cell_x, int32_t cell_y) {
  if (client == nullptr) return 0;
  return client->game->submit(sim::InteractCommand{{}, 0, {cell_x, cell_y}, {}}, now());
}

int strata_client_say(strata_client* client, const char* text) {
  if (client == nullptr || text == nullptr) return -1;
  return client->game->say(text) ? 0 : -1;
}

int strata_client_next_chat(strata_client* client, uint32_t* from, char* text, size_t text_size) {
  if (client == nullptr) return -1;
  if (client->heard.empty()) {
    for (view::ChatLine& line : client->game->take_chat()) client->heard.push_back(std::move(line));
  }
  if (client->heard.empty()) return -1;
  const view::ChatLine& line = client->heard.front();
  if (from != nullptr) *from = line.from;
  if (text != nullptr && text_size > 0) {
    const size_t n = std::min(text_size - 1, line.text.size());
    std::memcpy(text, line.text.data(), n);
    text[n] = '\0';
  }
  client->heard.pop_front();
  return 0;
}

void strata_client_get_stats(const strata_client* client, strata_client_stats* out) {
  if (client == nullptr || out == nullptr) return;
  const auto& s = client->game->stats();
  const net::ConnectionStats* net_stats = client->game->net_client().stats();
  *out = strata_client_stats{s.snapshots_applied, s.checksum_mismatches, s.snapshot_bytes,
                             net_stats != nullptr ? net_stats->rtt_ms : 0.0, client->game->input_delay_ticks()};
}

int strata_client_predicted(const strata_client* client, int32_t* x, int32_t* y) {
  if (client == nullptr || x == nullptr || y == nullptr || !client->game->predicted_position()) return -1;
  *x = client->game->predicted_position()->x.raw();
  *y = client->game->predicted_position()->y.raw();
  return 0;
}

int strata_client_smoothed(const strata_client* client, int32_t* x, int32_t* y) {
  if (client == nullptr || x == nullptr || y == nullptr) return -1;
  const auto p = client->game->smoothed_position();
  if (!p) return -1;
  *x = p->x.raw();
  *y = p->y.raw();
  return 0;
}

}  // extern "C"
