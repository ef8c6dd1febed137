/*
 * The simulator's region sensors (sim/world.c) and region lines
 * (sim/scenario.c): each effect on a synthetic image against pixels worked
 * out by hand, the whole sensor through sim_world_input() on a world built
 * here from a few synthetic images (no data files), and region lines with
 * their key=value words read, checked and written back.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scenario.h"
#include "test_support.h"
#include "world.h"

#define PX 784

/* warp with no turn: a whole-pixel move, copied exactly, fill brought in */
static void test_warp_shift(void **state)
{
    (void)state;
    double in[PX], out[PX];
    for (int k = 0; k < PX; k++) in[k] = k % 251;
    sim_sensor_warp(in, out, 0.0, 2, -1, 7.0);
    for (int y = 0; y < 28; y++) {
        for (int x = 0; x < 28; x++) {
            const int sx = x - 2, sy = y + 1; /* where the pixel came from */
            const double want = sx < 0 || sy >= 28 ? 7.0 : in[sy * 28 + sx];
            assert_true(out[y * 28 + x] == want);
        }
    }
}

/* a quarter turn clockwise on screen about (13.5, 13.5): the pixel at
 * (20, 13) lands at (14, 20) (u, v = 6.5, -0.5 -> 0.5, 6.5) */
static void test_warp_rotate(void **state)
{
    (void)state;
    double in[PX] = {0}, out[PX];
    in[13 * 28 + 20] = 255;
    sim_sensor_warp(in, out, 90.0, 0, 0, 0.0);
    for (int k = 0; k < PX; k++) {
        assert_true(fabs(out[k] - (k == 20 * 28 + 14 ? 255.0 : 0.0)) < 1e-9);
    }
}

/* a box of radius 1: a lone 90 spreads as 10 over its 3 x 3 window; in
 * the corner the window holds 4 pixels, so 90 / 4 there */
static void test_blur(void **state)
{
    (void)state;
    double in[PX] = {0}, out[PX];
    in[5 * 28 + 5] = 90;
    in[0] = 90;
    sim_sensor_blur(in, out, 1);
    for (int y = 0; y < 28; y++) {
        for (int x = 0; x < 28; x++) {
            double want = (x >= 4 && x <= 6 && y >= 4 && y <= 6) ? 10.0 : 0.0;
            if (x <= 1 && y <= 1) want = x == 0 && y == 0 ? 22.5 : x == 1 && y == 1 ? 10.0 : 90.0 / 6;
            assert_true(fabs(out[y * 28 + x] - want) < 1e-12);
        }
    }
}

static void test_occlude(void **state)
{
    (void)state;
    double px[PX];
    for (int k = 0; k < PX; k++) px[k] = 3;
    sim_sensor_occlude(px, 25, 2, 4, 200); /* clipped at the right edge */
    for (int y = 0; y < 28; y++) {
        for (int x = 0; x < 28; x++) {
            assert_true(px[y * 28 + x] == (x >= 25 && y >= 2 && y < 6 ? 200.0 : 3.0));
        }
    }
}

/* A world of one region per scenario region, pools of 20 training and 4
 * test images each, every image a different synthetic pattern. */
typedef struct {
    sim_scenario_t sc;
    sim_world_t w;
} fixture_t;

static void world_of(fixture_t *f, const char *const *regions, int n)
{
    char msg[256];
    int replaced = 0;
    sim_scenario_defaults(&f->sc);
    f->sc.base_images = 0;
    for (int i = 0; i < n; i++) {
        assert_int_equal(sim_scenario_set(&f->sc, "region", regions[i], &replaced, msg, sizeof(msg)), 0);
    }
    memset(&f->w, 0, sizeof(f->w));
    f->w.sc = &f->sc;
    f->w.pool_train = 20;
    f->w.pool_test = 4;
    f->w.samples = (uint32_t)n * 24;
    mfl_dataset_t *ds[2] = {&f->w.train_set, &f->w.test_set};
    for (int d = 0; d < 2; d++) {
        ds[d]->n = (uint32_t)n * (d ? 4 : 20);
        ds[d]->rows = ds[d]->cols = 28;
        ds[d]->images = malloc((size_t)ds[d]->n * PX);
        ds[d]->labels = calloc(ds[d]->n, 1);
        assert_non_null(ds[d]->images);
        for (uint32_t i = 0; i < ds[d]->n; i++) {
            for (int k = 0; k < PX; k++) { /* a blob that moves with i on a varied background */
                const int x = k % 28, y = k / 28, cx = 6 + (int)(i % 16), cy = 8 + (int)(i % 11);
                ds[d]->images[(size_t)i * PX + k] =
                    (uint8_t)((x - cx) * (x - cx) + (y - cy) * (y - cy) < 20 ? 240 : (x * 7 + y * 3 + (int)i) % 60);
            }
        }
    }
}

static void world_free(fixture_t *f)
{
    mfl_dataset_free(&f->w.train_set);
    mfl_dataset_free(&f->w.test_set);
}

/* the training image behind sample `k` of region r's pool (base_images 0) */
static const uint8_t *image_of(const fixture_t *f, uint32_t r, uint32_t k)
{
    return f->w.train_set.images + (size_t)(r * f->w.pool_train + k) * PX;
}

static void test_world_input_plain_effects(void **state)
{
    (void)state;
    static const char *const regions[] = {
        "home 1 0 0 1", "dim 0.5 10 0 1", "negative 1 0 0 1 invert=1", "blurred 1 0 0 1 blur=1",
        "patched 1 0 0 1 occlude=4 occlude_value=200",
    };
    fixture_t f;
    world_of(&f, regions, 5);
    int8_t in[PX];
    double scene[PX], blurred[PX];
    for (uint32_t k = 0; k < 20; k++) {
        const uint8_t *p;
        p = image_of(&f, 0, k);
        sim_world_input(&f.w, 0 * 24 + k, in);
        for (int i = 0; i < PX; i++) assert_int_equal(in[i], p[i] - 128);
        p = image_of(&f, 1, k);
        sim_world_input(&f.w, 1 * 24 + k, in);
        for (int i = 0; i < PX; i++) assert_int_equal(in[i], (int)lround(10 + 0.5 * p[i]) - 128);
        p = image_of(&f, 2, k);
        sim_world_input(&f.w, 2 * 24 + k, in);
        for (int i = 0; i < PX; i++) assert_int_equal(in[i], 127 - p[i]); /* 255 - p - 128 */
        p = image_of(&f, 3, k);
        for (int i = 0; i < PX; i++) scene[i] = p[i];
        sim_sensor_blur(scene, blurred, 1);
        sim_world_input(&f.w, 3 * 24 + k, in);
        for (int i = 0; i < PX; i++) assert_int_equal(in[i], (int)lround(blurred[i]) - 128);
        /* exactly one 4 x 4 square at 200, fully inside; the rest untouched */
        p = image_of(&f, 4, k);
        sim_world_input(&f.w, 4 * 24 + k, in);
        int x0 = 28, y0 = 28, changed = 0;
        for (int i = 0; i < PX; i++) {
            if (in[i] != p[i] - 128) {
                changed++;
                x0 = i % 28 < x0 ? i % 28 : x0;
                y0 = i / 28 < y0 ? i / 28 : y0;
            }
        }
        assert_true(changed <= 16 && x0 <= 24 && y0 <= 24);
        for (int y = y0; y < y0 + 4; y++) {
            for (int x = x0; x < x0 + 4; x++) assert_int_equal(in[y * 28 + x], 200 - 128);
        }
    }
    world_free(&f);
}

/* shift=1: each image is one of the nine whole-pixel moves of the scene,
 * the same every time it is seen, and not all images move alike */
static void test_world_input_shift(void **state)
{
    (void)state;
    static const char *const regions[] = {"home 1 0 0 1", "shaky 1 0 0 1 shift=1"};
    fixture_t f;
    world_of(&f, regions, 2);
    int8_t in[PX], again[PX];
    double scene[PX], moved[PX];
    int seen[9] = {0}, kinds = 0;
    for (uint32_t k = 0; k < 20; k++) {
        const uint8_t *p = image_of(&f, 1, k);
        sim_world_input(&f.w, 24 + k, in);
        sim_world_input(&f.w, 24 + k, again);
        assert_memory_equal(in, again, PX);
        for (int i = 0; i < PX; i++) scene[i] = p[i];
        int match = -1;
        for (int m = 0; m < 9 && match < 0; m++) {
            sim_sensor_warp(scene, moved, 0.0, m % 3 - 1, m / 3 - 1, 0.0);
            int same = 1;
            for (int i = 0; i < PX && same; i++) same = in[i] == (int)lround(moved[i]) - 128;
            match = same ? m : -1;
        }
        assert_true(match >= 0);
        kinds += !seen[match]++;
    }
    assert_true(kinds >= 3);
    world_free(&f);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Region lines: old ones written back as they were, new words written
 * back and read again to the same values, both prior forms alike, the
 * region's availability, and errors naming the file, line and word. */
static void test_region_lines(void **state)
{
    (void)state;
    char path[] = "/tmp/test_sim_sensor_XXXXXX", msg[512], *text = NULL;
    size_t len = 0;
    const int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    write_file(path, "availability = 0.4\n"
                     "region = home 1 0 0 0.03\n"
                     "region = dusk 0.8 -5 8 1 2 blur=1 rotate=12.5 shift=2 occlude=10 occlude_value=30 invert=1 "
                     "availability=0.25 prior=0:4,9:0.5\n"
                     "region = list 1 0 0 1 prior=4,1,1,1,1,1,1,1,1,0.5\n");
    sim_scenario_t a, b;
    sim_scenario_defaults(&a);
    assert_int_equal(sim_scenario_load(&a, path, msg, sizeof(msg)), 0);
    assert_int_equal(a.n_regions, 3);
    const sim_region_t *d = &a.regions[1];
    assert_true(d->blur == 1 && d->rotate == 12.5 && d->shift == 2 && d->occlude == 10 && d->occlude_value == 30 &&
                d->invert == 1 && d->share == 2 && d->offset == -5);
    assert_true(d->prior[0] == 4 && d->prior[9] == 0.5 && d->prior[5] == 1);
    assert_memory_equal(a.regions[1].prior, a.regions[2].prior, sizeof(d->prior));
    assert_true(sim_region_availability(&a, 0) == 0.4 && sim_region_availability(&a, 1) == 0.25);

    FILE *f = open_memstream(&text, &len);
    assert_int_equal(sim_scenario_write(&a, f), 0);
    fclose(f);
    assert_non_null(strstr(text, "region = home 1 0 0 0.03 1\n")); /* an old line stays as it was */
    assert_non_null(strstr(text, "region = dusk 0.8 -5 8 1 2 invert=1 rotate=12.5 shift=2 occlude=10 "
                                 "occlude_value=30 blur=1 prior=4,1,1,1,1,1,1,1,1,0.5 availability=0.25\n"));
    write_file(path, text);
    free(text);
    sim_scenario_defaults(&b);
    assert_int_equal(sim_scenario_load(&b, path, msg, sizeof(msg)), 0);
    for (uint32_t r = 0; r < 3; r++) {
        const sim_region_t *x = &a.regions[r], *y = &b.regions[r];
        assert_string_equal(x->name, y->name);
        assert_true(x->contrast == y->contrast && x->offset == y->offset && x->noise == y->noise &&
                    x->rare_weight == y->rare_weight && x->share == y->share && x->invert == y->invert &&
                    x->rotate == y->rotate && x->shift == y->shift && x->occlude == y->occlude &&
                    x->occlude_value == y->occlude_value && x->blur == y->blur &&
                    x->availability == y->availability);
        assert_memory_equal(x->prior, y->prior, sizeof(x->prior));
    }

    static const struct {
        const char *line, *says;
    } bad[] = {
        {"region = x 1 0 0 1 blur=9\n", "blur=9: 0..3"},
        {"region = x 1 0 0 1 rotate=90\n", "rotate=90: 0..45"},
        {"region = x 1 0 0 1 prior=1,2\n", "prior=1,2: 10 weights"},
        {"region = x 1 0 0 1 prior=1:2,3\n", "prior=1:2,3"},
        {"region = x 1 0 0 1 sharpen=1\n", "unknown region word \"sharpen\""},
        {"region = x 1 0 0 1 blur=1 2\n", "\"2\" is not KEY=VALUE"},
        {"region = x 1 0 blur=1\n", "CONTRAST OFFSET NOISE RARE_WEIGHT expected"},
        {"region = x 1 0 0 1 availability=1.5\n", "availability=1.5: 0..1"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        write_file(path, bad[i].line);
        sim_scenario_defaults(&b);
        assert_int_equal(sim_scenario_load(&b, path, msg, sizeof(msg)), -1);
        assert_non_null(strstr(msg, ":1: bad value"));
        if (!strstr(msg, bad[i].says)) {
            fail_msg("%s: got \"%s\"", bad[i].says, msg);
        }
    }
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_warp_shift),
        cmocka_unit_test(test_warp_rotate),
        cmocka_unit_test(test_blur),
        cmocka_unit_test(test_occlude),
        cmocka_unit_test(test_world_input_plain_effects),
        cmocka_unit_test(test_world_input_shift),
        cmocka_unit_test(test_region_lines),
    };
    return cmocka_run_group_tests_name("sim_sensor", tests, NULL, NULL);
}
