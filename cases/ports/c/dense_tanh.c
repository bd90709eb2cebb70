/* The 2-5-1 tanh network of seed000 (Dense(5, tanh), then Dense(1, tanh)) as a C port, the way
 * one would write it for a microcontroller: loops over float arrays, kernels (in, out).
 *
 *   dense_tanh INPUTS.npz WEIGHTS.npz OUTPUTS.npz
 *
 * Reads x (batch, 2) and the canonical weights, writes the output and the hidden layer's output
 * under the names the harness reads (see cases/port_external_programs.yaml).
 */
#include <math.h>
#include "npz.h"

static void dense_tanh(const float *x, long batch, long in, const npz_array *kernel,
                       const npz_array *bias, float *out) {
    long units = kernel->shape[1];
    for (long b = 0; b < batch; b++)
        for (long j = 0; j < units; j++) {
            float sum = bias->data[j];
            for (long i = 0; i < in; i++) sum += x[b * in + i] * kernel->data[i * units + j];
            out[b * units + j] = tanhf(sum);
        }
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s INPUTS.npz WEIGHTS.npz OUTPUTS.npz\n", argv[0]);
        return 1;
    }
    npz_array x = npz_read(argv[1], "x");
    npz_array w1 = npz_read(argv[2], "hidden/kernel"), b1 = npz_read(argv[2], "hidden/bias");
    npz_array w2 = npz_read(argv[2], "output/kernel"), b2 = npz_read(argv[2], "output/bias");
    long batch = x.shape[0], hidden_units = w1.shape[1], output_units = w2.shape[1];
    float *hidden = malloc(sizeof(float) * batch * hidden_units);
    float *output = malloc(sizeof(float) * batch * output_units);
    dense_tanh(x.data, batch, x.shape[1], &w1, &b1, hidden);
    dense_tanh(hidden, batch, hidden_units, &w2, &b2, output);

    npz_writer *out = npz_open(argv[3]);
    long hidden_shape[2] = {batch, hidden_units}, output_shape[2] = {batch, output_units};
    npz_add(out, "output:output", output, 2, output_shape);
    npz_add(out, "intermediate:hidden", hidden, 2, hidden_shape);
    npz_close(out);
    return 0;
}
