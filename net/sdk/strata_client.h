/* net/sdk/strata_client.h — the C ABI of the Strata client SDK, for engines (Godot GDExtension,
 * Unity native plugins, ...). One opaque handle per session; it owns its UDP socket, so an engine
 * calls strata_client_update() once per frame and reads the view. Not thread-safe: use a handle
 * from one thread. Every function tolerates a NULL handle (returns 0 / does nothing).
 *
 *   uint8_t token[2048]; size_t size = sizeof token; uint32_t player;
 *   if (strata_login("127.0.0.1", 8080, "alice", token, &size, &player) != 0) ...;
 *   strata_client* c = strata_client_create();
 *   strata_client_connect(c, token, size);
 *   for (;;) { strata_client_update(c); ... strata_client_move(c, STRATA_DIR_E, 0); }
 *   strata_client_destroy(c);
 */
#ifndef STRATA_CLIENT_H
#define STRATA_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct strata_client strata_client;

enum strata_state {
  STRATA_STATE_IDLE = 0,
  STRATA_STATE_CONNECTING = 1,
  STRATA_STATE_CONNECTED = 2, /* connected; strata_client_player() != 0 once welcomed */
  STRATA_STATE_DISCONNECTED = 3,
  STRATA_STATE_FAILED = 4
};

/* Why the client is STRATA_STATE_DISCONNECTED, or why the server denied it (STRATA_STATE_FAILED
   after a denied handshake); the values of net::DisconnectReason. */
enum strata_reason {
  STRATA_REASON_NONE = 0,
  STRATA_REASON_REQUESTED = 1,
  STRATA_REASON_TIMEOUT = 2,
  STRATA_REASON_PROTOCOL_ERROR = 3,
  STRATA_REASON_SERVER_FULL = 4,
  STRATA_REASON_SHUTDOWN = 5,
  STRATA_REASON_KICKED = 6,
  STRATA_REASON_TRANSPORT_ERROR = 7,
  STRATA_REASON_REPLACED = 8, /* the same account connected again elsewhere */
  STRATA_REASON_TOKEN_REUSED = 9,
  STRATA_REASON_REFUSED = 10,
  STRATA_REASON_RATE_LIMITED = 11
};

enum strata_direction {
  STRATA_DIR_NONE = 0,
  STRATA_DIR_N,
  STRATA_DIR_NE,
  STRATA_DIR_E,
  STRATA_DIR_SE,
  STRATA_DIR_S,
  STRATA_DIR_SW,
  STRATA_DIR_W,
  STRATA_DIR_NW
};

enum strata_entity_kind { STRATA_ENTITY_PLAYER = 0, STRATA_ENTITY_NPC = 1, STRATA_ENTITY_GHOST = 2 };

/* One visible entity. Positions and velocities are in 1/256 of a tile (per tick). */
typedef struct strata_entity {
  uint8_t kind;
  uint16_t region;
  uint32_t id;
  int32_t x, y;
  int32_t vx, vy;
  uint8_t facing;
  uint16_t health;
} strata_entity;

typedef struct strata_client_stats {
  uint64_t snapshots_applied;
  uint64_t checksum_mismatches;
  uint64_t snapshot_bytes;
  double rtt_ms;
  uint32_t input_delay_ticks;
} strata_client_stats;

/* POST /api/login. On success returns 0, writes the token (size in/out) and the player id. */
int strata_login(const char* host, uint16_t http_port, const char* name, uint8_t* token, size_t* token_size,
                 uint32_t* player);
/* The same with a credential: a password (servers in auth.mode static) or a login ticket from the
 * game's backend (auth.mode ticket); either may be NULL. With a ticket, name may be NULL or "". */
int strata_login_credential(const char* host, uint16_t http_port, const char* name, const char* password,
                            const char* ticket, uint8_t* token, size_t* token_size, uint32_t* player);

strata_client* strata_client_create(void);
void strata_client_destroy(strata_client* client);
/* Starts connecting with a connect token; 0 on success. */
int strata_client_connect(strata_client* client, const uint8_t* token, size_t token_size);
/* Pumps the network (non-blocking): receive, apply and verify snapshots, acknowledge, send inputs. */
void strata_client_update(strata_client* client);
void strata_client_disconnect(strata_client* client);
int strata_client_state(const strata_client* client);
/* A strata_reason: why the connection ended or the handshake was denied (0 otherwise). */
int strata_client_reason(const strata_client* client);
uint32_t strata_client_player(const strata_client* client);
/* The tick of the newest verified view (0 before the first). */
uint64_t strata_client_tick(const strata_client* client);
/* Copies up to max entities of the newest view; returns how many the view holds. */
size_t strata_client_entities(const strata_client* client, strata_entity* out, size_t max);
/* Commands of the local player; each returns its input sequence (0 if not yet welcomed). */
uint32_t strata_client_move(strata_client* client, int direction, int run);
uint32_t strata_client_place(strata_client* client, int32_t cell_x, int32_t cell_y, uint8_t block_kind);
uint32_t strata_client_break(strata_client* client, int32_t cell_x, int32_t cell_y);
uint32_t strata_client_interact(strata_client* client, int32_t cell_x, int32_t cell_y);
void strata_client_get_stats(const strata_client* client, strata_client_stats* out);
/* Chat. say: a line of UTF-8 (no control characters, at most 256 bytes) to the players around;
   0 when queued, -1 when refused. next_chat: the oldest line heard and not read yet: copies its
   text (NUL-terminated, cut to text_size - 1 bytes) and speaker; 0 when a line was read, -1 when
   none is waiting. */
int strata_client_say(strata_client* client, const char* text);
int strata_client_next_chat(strata_client* client, uint32_t* from, char* text, size_t text_size);
/* The local player: predicted (sim rules, unprocessed inputs re-applied), and smoothed (what to
 * draw). Return 0 when known, -1 before the player is in view. */
int strata_client_predicted(const strata_client* client, int32_t* x, int32_t* y);
int strata_client_smoothed(const strata_client* client, int32_t* x, int32_t* y);

#ifdef __cplusplus
}
#endif

#endif /* STRATA_CLIENT_H */
