/*
 * labels_test.c — thread labels: interning, the push/pop stack, cprof_do, inheritance, the bounds.
 *
 * Through the public calls of cprof.h and the two reading calls of labels.h. This binary links
 * libcprof.a, so pthread_create is the library's hook and new threads inherit labels. Sets are
 * interned: the same pairs give the same id whatever the order they were pushed in, and from any
 * thread; labels_of() returns them sorted by key. The last test fills the table of sets up to its
 * bound, after which a push that needs a new set keeps the current labels; it runs last, since no
 * new set can be made after it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "cprof.h"
#include "runtime/labels.h"
#include "test.h"

#define CHECK_STR(got, want)                                                                       \
  do {                                                                                             \
    const char *g_ = (got), *w_ = (want);                                                          \
    CHECK((g_ == NULL && w_ == NULL) || (g_ != NULL && w_ != NULL && strcmp(g_, w_) == 0),         \
          "%s: got \"%s\", want \"%s\"", #got, g_ ? g_ : "(null)", w_ ? w_ : "(null)");            \
  } while (0)

/* The labels of id as "k=v,k=v" (sorted, as labels_of gives them). */
static const char *show(uint32_t id) {
  static char buf[1024];
  size_t n, off = 0;
  const rt_label_t *l = labels_of(id, &n);
  buf[0] = '\0';
  for (size_t i = 0; i < n && off < sizeof buf; i++)
    off +=
        (size_t)snprintf(buf + off, sizeof buf - off, "%s%s=%s", i ? "," : "", l[i].key, l[i].str);
  return buf;
}

static uint32_t looked;
static int never_called = 1;

static void look(void *unused) { looked = labels_current(); }
static void never(void *unused) { never_called = 0; }

static void test_empty(void) {
  size_t n = 7;
  CHECK(labels_current() == 0, "a thread starts without labels");
  CHECK(labels_of(0, &n) == NULL && n == 0, "id 0 is the empty set");
  CHECK(labels_of(12345, &n) == NULL && n == 0, "an id never handed out has no labels");
  CHECK(labels_of(UINT32_MAX, &n) == NULL && n == 0, "nor one past the bound");
  CHECK(cprof_label_get("tenant") == NULL, "no label before a push");
  CHECK(cprof_label_get(NULL) == NULL, "get(NULL)");
}

static void test_push_pop(void) {
  int t1 = cprof_label_push("tenant", "a");
  CHECK(t1 == 1, "the first push's token is 1: %d", t1);
  uint32_t a = labels_current();
  CHECK(a != 0, "a push makes a set");
  CHECK_STR(show(a), "tenant=a");
  CHECK_STR(cprof_label_get("tenant"), "a");
  int t2 = cprof_label_push("route", "/x");
  CHECK(t2 == 2, "tokens count the pushes in force: %d", t2);
  CHECK_STR(show(labels_current()), "route=/x,tenant=a");
  int t3 = cprof_label_push("tenant", "b");
  CHECK_STR(show(labels_current()), "route=/x,tenant=b");
  CHECK_STR(cprof_label_get("tenant"), "b");
  CHECK(cprof_label_pop(t3) == 0, "pop the override");
  CHECK_STR(show(labels_current()), "route=/x,tenant=a");
  CHECK(cprof_label_pop(t3) == -EINVAL, "a token popped already is refused");
  CHECK(cprof_label_pop(0) == -EINVAL && cprof_label_pop(-EINVAL) == -EINVAL,
        "so are 0 and errors");
  CHECK(cprof_label_pop(t2 + 5) == -EINVAL, "and a token never given");
  CHECK_STR(show(labels_current()), "route=/x,tenant=a");
  CHECK(cprof_label_pop(t2) == 0 && labels_current() == a, "pop back to {tenant=a}, same id");
  CHECK(cprof_label_pop(t1) == 0 && labels_current() == 0, "and to no labels");

  /* the same pairs give the same id, whatever the order of the pushes */
  t1 = cprof_label_push("tenant", "a");
  CHECK(labels_current() == a, "pushing tenant=a again gives the same id");
  cprof_label_push("route", "/x");
  uint32_t ax = labels_current();
  cprof_label_pop(t1);
  t1 = cprof_label_push("route", "/x");
  cprof_label_push("tenant", "a");
  CHECK(labels_current() == ax, "route then tenant is tenant then route: %u %u", labels_current(),
        ax);
  cprof_label_push("zeta", "1");
  cprof_label_push("alpha", "2");
  cprof_label_push("mid", "3");
  CHECK_STR(show(labels_current()), "alpha=2,mid=3,route=/x,tenant=a,zeta=1");

  /* a forgotten pop is undone with the one below it */
  CHECK(cprof_label_pop(t1) == 0 && labels_current() == 0, "pop(t1) undoes all five pushes");
  CHECK(cprof_label_pop(t1 + 1) == -EINVAL, "whose tokens are gone");
}

static void test_strings(void) {
  char key[16] = "k", val[16] = "value";
  int t = cprof_label_push(key, val);
  strcpy(val, "changed");
  strcpy(key, "x");
  CHECK_STR(cprof_label_get("k"), "value");
  CHECK(cprof_label_get("x") == NULL, "the key was copied too");
  int t2 = cprof_label_push("empty", "");
  CHECK(t2 > 0, "an empty value is a value");
  CHECK_STR(cprof_label_get("empty"), "");
  cprof_label_pop(t);
  /* a value that is also a key, and a key equal to another pair's new value */
  t = cprof_label_push("same", "same");
  CHECK_STR(show(labels_current()), "same=same");
  cprof_label_pop(t);
  t = cprof_label_push("p", "q");
  cprof_label_push("q", "p");
  uint32_t one_by_one = labels_current();
  CHECK_STR(show(one_by_one), "p=q,q=p");
  cprof_label_pop(t);
  const char *kv[] = {"q", "p", "p", "q"};
  t = cprof_label_push("other", "x"); /* cprof_do adds to what is in force */
  CHECK(cprof_do(kv, 2, look, NULL) == 0, "cprof_do");
  CHECK_STR(show(looked), "other=x,p=q,q=p");
  cprof_label_pop(t);
  CHECK(cprof_do(kv, 2, look, NULL) == 0 && looked == one_by_one, "the same set at once: %u %u",
        looked, one_by_one);
}

static size_t full_n;
static int full_e2big, full_override, full_changed;

static void full_set(void *unused) {
  uint32_t full = labels_current();
  labels_of(full, &full_n);
  full_e2big = cprof_label_push("k64", "v");
  full_override = cprof_label_push("k00", "w");
  full_changed = labels_current() != full && strcmp(cprof_label_get("k00"), "w") == 0;
}

static void test_invalid(void) {
  int t = cprof_label_push("tenant", "a");
  uint32_t before = labels_current();
  CHECK(cprof_label_push(NULL, "x") == -EINVAL, "key NULL");
  CHECK(cprof_label_push("", "x") == -EINVAL, "key empty");
  CHECK(cprof_label_push("k", NULL) == -EINVAL, "value NULL");
  CHECK(labels_current() == before, "refused pushes change nothing");
  CHECK(cprof_label_push("k", "v") == t + 1, "and take no token");
  cprof_label_pop(t);

  /* 64 labels at most */
  char keys[65][8];
  const char *many[2 * 65];
  for (int i = 0; i < 65; i++) {
    snprintf(keys[i], sizeof keys[i], "k%02d", i);
    many[2 * i] = keys[i];
    many[2 * i + 1] = "v";
  }
  CHECK(cprof_do(many, 64, full_set, NULL) == 0, "cprof_do with 64 pairs");
  CHECK(full_n == 64, "64 labels: %zu", full_n);
  CHECK(full_e2big == -E2BIG, "a 65th is refused: %d", full_e2big);
  CHECK(full_override > 0 && full_changed, "an override of one of them is not, and applies");
  CHECK(cprof_do(many, 65, never, NULL) == -E2BIG, "cprof_do with 65 pairs");
  CHECK(cprof_do(NULL, 1, never, NULL) == -EINVAL, "cprof_do kv NULL");
  CHECK(cprof_do(many, 1, NULL, NULL) == -EINVAL, "cprof_do fn NULL");
  CHECK(never_called, "fn is not called when the labels are refused");
  CHECK(labels_current() == 0, "nothing left pushed");
}

static void test_depth(void) {
  int tokens[40];
  for (int i = 0; i < 40; i++) {
    char v[8];
    snprintf(v, sizeof v, "%d", i);
    tokens[i] = cprof_label_push("level", v);
    CHECK(tokens[i] == i + 1, "token %d", tokens[i]);
  }
  CHECK_STR(cprof_label_get("level"), "31");
  CHECK(cprof_label_pop(tokens[35]) == 0, "pop deep");
  CHECK_STR(cprof_label_get("level"), "31");
  CHECK(cprof_label_pop(tokens[31]) == 0, "pop to 31 pushes");
  CHECK_STR(cprof_label_get("level"), "30");
  CHECK(cprof_label_pop(tokens[1]) == 0, "pop to 1 push");
  CHECK_STR(cprof_label_get("level"), "0");
  CHECK(cprof_label_pop(tokens[0]) == 0 && labels_current() == 0, "and to none");
}

/* ------------------------------------------------------------ cprof_do ------------------------ */

typedef struct do_probe {
  const char *tenant, *route;
  int outer_token;
  int mode; /* 0: look; 1: leave a push; 2: pop the caller's push */
  struct do_probe *inner;
} do_probe_t;

static void probe_fn(void *p) {
  do_probe_t *d = p;
  d->tenant = cprof_label_get("tenant");
  d->route = cprof_label_get("route");
  if (d->mode == 1)
    cprof_label_push("leak", "yes");
  if (d->mode == 2)
    cprof_label_pop(d->outer_token);
  if (d->inner != NULL) {
    const char *kv[] = {"route", "/inner"};
    cprof_do(kv, 1, probe_fn, d->inner);
  }
}

static void test_do(void) {
  int t = cprof_label_push("tenant", "outer");
  uint32_t before = labels_current();
  const char *kv[] = {"tenant", "a", "route", "/r", "tenant", "b"};
  do_probe_t inner = {0}, d = {.inner = &inner};
  CHECK(cprof_do(kv, 3, probe_fn, &d) == 0, "cprof_do");
  CHECK_STR(d.tenant, "b");
  CHECK_STR(d.route, "/r");
  CHECK_STR(inner.tenant, "b");
  CHECK_STR(inner.route, "/inner");
  CHECK(labels_current() == before, "restored after");
  d = (do_probe_t){.mode = 1};
  cprof_do(kv, 1, probe_fn, &d);
  CHECK(labels_current() == before && cprof_label_get("leak") == NULL, "a push fn left is undone");
  CHECK(cprof_label_push("x", "y") == t + 1, "and its depth too");
  cprof_label_pop(t + 1);
  d = (do_probe_t){.mode = 2, .outer_token = t};
  cprof_do(kv, 1, probe_fn, &d);
  CHECK(labels_current() == before, "a pop of the caller's push inside fn is undone too");
  CHECK(cprof_label_pop(t) == 0 && labels_current() == 0, "the caller's token still works");
  CHECK(cprof_do(NULL, 0, probe_fn, &(do_probe_t){0}) == 0, "cprof_do with no labels");
}

/* ------------------------------------------------------------ threads ------------------------- */

typedef struct child {
  uint32_t id;
  const char *tenant;
  int pop_rc;
} child_t;

static void *child_main(void *p) {
  child_t *c = p;
  c->id = labels_current();
  c->tenant = cprof_label_get("tenant");
  c->pop_rc = cprof_label_pop(1); /* the inherited labels are the thread's base: nothing to pop */
  return NULL;
}

static void test_inherit(void) {
  int t = cprof_label_push("tenant", "parent");
  cprof_label_push("extra", "1");
  uint32_t mine = labels_current();
  child_t c = {0};
  pthread_t th;
  CHECK(pthread_create(&th, NULL, child_main, &c) == 0, "pthread_create");
  pthread_join(th, NULL);
  CHECK(c.id == mine, "the child starts with its creator's set: %u %u", c.id, mine);
  CHECK_STR(c.tenant, "parent");
  CHECK(c.pop_rc == -EINVAL, "and cannot pop its creator's pushes");
  cprof_label_pop(t);
  c = (child_t){0};
  pthread_create(&th, NULL, child_main, &c);
  pthread_join(th, NULL);
  CHECK(c.id == 0 && c.tenant == NULL, "created without labels, it has none");
}

/* Many threads intern the same sets at once: every thread gets the same ids. */
#define RACERS 4
#define RACE_SETS 500

static uint32_t race_ids[RACERS][RACE_SETS];

static void *racer(void *p) {
  uintptr_t me = (uintptr_t)p;
  for (int i = 0; i < RACE_SETS; i++) {
    int k = (int)((i + me * 7) % RACE_SETS); /* each thread its own order */
    char v[16];
    snprintf(v, sizeof v, "r%d", k);
    int t = cprof_label_push("race", v);
    race_ids[me][k] = labels_current();
    cprof_label_pop(t);
  }
  return NULL;
}

static void test_race(void) {
  pthread_t th[RACERS];
  for (uintptr_t i = 0; i < RACERS; i++)
    pthread_create(&th[i], NULL, racer, (void *)i);
  for (int i = 0; i < RACERS; i++)
    pthread_join(th[i], NULL);
  int same = 1, distinct = 1, right = 1;
  for (int k = 0; k < RACE_SETS; k++) {
    for (int i = 1; i < RACERS; i++)
      same &= race_ids[i][k] == race_ids[0][k];
    if (k > 0)
      distinct &= race_ids[0][k] != race_ids[0][k - 1];
    char want[32];
    snprintf(want, sizeof want, "race=r%d", k);
    right &= strcmp(show(race_ids[0][k]), want) == 0;
  }
  CHECK(same, "concurrent interning: the same ids in every thread");
  CHECK(distinct, "different sets, different ids");
  CHECK(right, "each id names its set");
}

/* ------------------------------------------------------------ the bound ----------------------- */

static void test_cap(void) {
  uint32_t max = 0, last = 0;
  int made = 0;
  char v[32];
  for (int i = 0; i < 70000; i++) {
    snprintf(v, sizeof v, "cap-%d", i);
    int t = cprof_label_push("cap", v);
    uint32_t id = labels_current();
    cprof_label_pop(t);
    if (id == 0)
      break; /* the bound: the push kept the current (empty) set */
    made++;
    max = id > max ? id : max;
    last = id;
  }
  CHECK(max == 65535, "ids go up to 65535: %u (%d sets made here)", max, made);
  int t = cprof_label_push("tenant", "a");
  uint32_t kept = labels_current();
  CHECK(kept != 0, "an existing set is still found after the bound");
  int t2 = cprof_label_push("brand", "new");
  CHECK(t2 == t + 1, "a push past the bound still succeeds: %d", t2);
  CHECK(labels_current() == kept, "but keeps the current labels");
  CHECK(cprof_label_get("brand") == NULL, "so the new label is not there");
  CHECK(cprof_label_pop(t2) == 0 && labels_current() == kept, "and pops as usual");
  cprof_label_pop(t);
  snprintf(v, sizeof v, "cap-%d", made - 1);
  t = cprof_label_push("cap", v);
  CHECK(labels_current() == last, "a set made before the bound keeps its id");
  cprof_label_pop(t);
  CHECK(strlen(cprof_last_error()) > 0, "the bound was reported: %s", cprof_last_error());
}

int main(void) {
  test_empty();
  test_push_pop();
  test_strings();
  test_invalid();
  test_depth();
  test_do();
  test_inherit();
  test_race();
  test_cap();
  return TEST_DONE("labels_test");
}
