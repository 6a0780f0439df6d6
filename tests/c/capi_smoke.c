/* Smoke test of the C API, compiled as C99 against railcc.h only: every rank all_reduces 1000
 * floats (element i of rank r is r + i), checks the sums, does the same with 100000 floats in a
 * window (memory from railcc_mem_alloc, registered), and meets the others at a barrier.
 * Works alone (one rank) or under a launcher: railcc-run -n 3 capi_smoke. Exits 0 when correct. */
#include <railcc.h>
#include <stdio.h>
#include <stdlib.h>

#define COUNT 1000
#define WINDOW_COUNT 100000

/* Prints the failing call with railcc's full message (rank, peer, variable) and exits. */
static void check(railcc_status status, const char* what) {
  if (status != RAILCC_OK) {
    fprintf(stderr, "capi_smoke: %s failed: %s (%d): %s\n", what, railcc_error_string(status),
            (int)status, railcc_last_error());
    exit(1);
  }
}

/* Counts elements of data[0, n) that differ from sum over ranks of (r + i). */
static int count_wrong(const float* data, int n, int rank, int size) {
  int i, bad = 0;
  for (i = 0; i < n; ++i) {
    /* sum over r of (r + i) = size*(size-1)/2 + size*i */
    const float expected = (float)(size * (size - 1) / 2 + size * i);
    if (data[i] != expected) {
      if (bad++ < 5)
        fprintf(stderr, "rank %d: data[%d] = %g, expected %g\n", rank, i, (double)data[i],
                (double)expected);
    }
  }
  return bad;
}

int main(void) {
  railcc_comm_t comm = NULL;
  railcc_work_t work = NULL;
  float* data = (float*)malloc(COUNT * sizeof(float));
  void* shared = NULL;
  float* win = NULL;
  uint64_t window = 0;
  int rank = -1, size = -1, i, bad = 0;
  if (data == NULL) return 1;

  check(railcc_comm_init(&comm), "railcc_comm_init");
  check(railcc_comm_rank(comm, &rank), "railcc_comm_rank");
  check(railcc_comm_size(comm, &size), "railcc_comm_size");
  for (i = 0; i < COUNT; ++i) data[i] = (float)(rank + i);

  /* Asynchronous form, in place; small integers keep the float sums exact. */
  check(railcc_all_reduce(comm, data, data, COUNT, RAILCC_FLOAT32, RAILCC_SUM, &work),
        "railcc_all_reduce");
  check(railcc_work_wait(work, -1), "railcc_work_wait");
  check(railcc_work_free(work), "railcc_work_free");
  bad += count_wrong(data, COUNT, rank, size);
  /* In a window: ranks of one host reduce straight from each other's buffers. */
  check(railcc_mem_alloc(WINDOW_COUNT * sizeof(float), &shared), "railcc_mem_alloc");
  win = (float*)shared;
  for (i = 0; i < WINDOW_COUNT; ++i) win[i] = (float)(rank + i);
  check(railcc_comm_register_window(comm, win, WINDOW_COUNT * sizeof(float), &window),
        "railcc_comm_register_window");
  check(railcc_all_reduce(comm, win, win, WINDOW_COUNT, RAILCC_FLOAT32, RAILCC_SUM, NULL),
        "railcc_all_reduce (window)");
  bad += count_wrong(win, WINDOW_COUNT, rank, size);
  check(railcc_comm_deregister_window(comm, window), "railcc_comm_deregister_window");
  check(railcc_mem_free(shared), "railcc_mem_free");
  /* Blocking form (NULL work). */
  check(railcc_barrier(comm, NULL), "railcc_barrier");

  printf("rank %d of %d: railcc %s, data[0] = %g, data[%d] = %g: %s\n", rank, size,
         railcc_version(), (double)data[0], COUNT - 1, (double)data[COUNT - 1],
         bad == 0 ? "OK" : "WRONG");
  check(railcc_comm_destroy(comm), "railcc_comm_destroy");
  free(data);
  return bad == 0 ? 0 : 1;
}
