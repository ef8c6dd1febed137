/*
 * Host-only datasets: images with labels, as read from IDX files (the
 * MNIST family's format). Fashion-MNIST comes from Debian's
 * dataset-fashion-mnist package (MFL_FMNIST_DIR).
 */
#ifndef MFL_DATASET_H
#define MFL_DATASET_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MFL_FMNIST_DIR "/usr/share/datasets/fashion-mnist"
#define MFL_FMNIST_CLASSES 10

typedef struct {
    uint32_t n;       /* samples */
    uint32_t rows, cols;
    uint8_t *images;  /* n x rows x cols pixels, row-major, malloc'd */
    uint8_t *labels;  /* n labels, malloc'd */
} mfl_dataset_t;

/*
 * Parses IDX images (magic 0x00000803: n, rows, cols, then bytes) and labels
 * (magic 0x00000801: n, then bytes) from memory. Untrusted input: the
 * declared sizes must match the bytes present exactly, labels must be below
 * max_label, and allocation never exceeds the input's size.
 * Returns 0 or MFL_ERR_DATA_FORMAT with a sentence in msg.
 */
int mfl_idx_parse(const uint8_t *images, size_t images_len, const uint8_t *labels, size_t labels_len,
                  uint32_t max_label, mfl_dataset_t *ds, char *msg, size_t msg_cap);

/* Reads gzip-compressed (or plain) IDX files and parses them. Returns 0,
 * MFL_ERR_IO, MFL_ERR_NO_MEMORY or MFL_ERR_DATA_FORMAT (message in msg). */
int mfl_idx_load(const char *images_path, const char *labels_path, uint32_t max_label, mfl_dataset_t *ds,
                 char *msg, size_t msg_cap);

/* Fashion-MNIST's training (train = 1, 60000 images) or test split
 * (train = 0, 10000 images) from dir (NULL: MFL_FMNIST_DIR). */
int mfl_fmnist_load(const char *dir, int train, mfl_dataset_t *ds, char *msg, size_t msg_cap);

void mfl_dataset_free(mfl_dataset_t *ds);

/* Class names of Fashion-MNIST, by label. */
const char *mfl_fmnist_class_name(int label);

#ifdef __cplusplus
}
#endif

#endif /* MFL_DATASET_H */
