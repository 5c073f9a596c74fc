/* tests/c_abi/example.c — the smallest engine integration, in C: log in, connect, walk east for
 * two seconds, print what it sees. The suite compiles and runs it against a real strata-server
 * (tools/e2e-c-abi.sh). Exit 0 when it was welcomed, saw itself move, heard its own chat line
 * echoed, and had no checksum mismatch. Usage: example HOST HTTP_PORT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "net/sdk/strata_client.h"

static void sleep_ms(long ms) {
  struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&t, NULL);
}

static int my_x(strata_client* c, uint32_t player, int32_t* x) {
  strata_entity entities[256];
  size_t n = strata_client_entities(c, entities, 256);
  for (size_t i = 0; i < n && i < 256; ++i) {
    if (entities[i].kind == STRATA_ENTITY_PLAYER && entities[i].id == player) {
      *x = entities[i].x;
      return 1;
    }
  }
  return 0;
}

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  uint8_t token[4096];
  size_t size = sizeof token;
  uint32_t player = 0;
  if (strata_login(argv[1], (uint16_t)atoi(argv[2]), "c_example", token, &size, &player) != 0) {
    fprintf(stderr, "login failed\n");
    return 1;
  }
  strata_client* c = strata_client_create();
  if (c == NULL || strata_client_connect(c, token, size) != 0) return 1;
  int32_t start_x = 0, x = 0;
  int have_start = 0;
  int heard_own = 0;
  for (int frame = 0; frame < 400; ++frame) { /* ~4 s at 10 ms a frame */
    strata_client_update(c);
    if (!have_start && strata_client_player(c) != 0 && my_x(c, player, &start_x)) {
      have_start = 1;
      strata_client_move(c, STRATA_DIR_E, 0);
      if (strata_client_say(c, "hello from C") != 0) fprintf(stderr, "say refused\n");
    }
    uint32_t from = 0;
    char text[300];
    while (strata_client_next_chat(c, &from, text, sizeof text) == 0) {
      printf("c example: heard player %u: %s\n", from, text);
      heard_own = heard_own || (from == player && strcmp(text, "hello from C") == 0);
    }
    sleep_ms(10);
  }
  int moved = have_start && my_x(c, player, &x) && x != start_x;
  strata_client_stats stats;
  strata_client_get_stats(c, &stats);
  int32_t px = 0, py = 0;
  if (strata_client_predicted(c, &px, &py) == 0) printf("c example: predicted x %d (server view %d)\n", px, x);
  printf("c example: player %u, tick %llu, x %d -> %d, %llu snapshots, %llu mismatches, rtt %.1f ms\n", player,
         (unsigned long long)strata_client_tick(c), start_x, x, (unsigned long long)stats.snapshots_applied,
         (unsigned long long)stats.checksum_mismatches, stats.rtt_ms);
  strata_client_destroy(c);
  return (moved && heard_own && stats.checksum_mismatches == 0) ? 0 : 1;
}
