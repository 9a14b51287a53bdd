/* G.711 mu-law and A-law encode and decode, one C call per frame.
 *
 * Why this exists: the per-frame work of G.711 is a table look-up per sample, which CPython can
 * only do at C speed.  audioop does it too, but reached through a Python wrapper that binds its
 * width argument it costs a Python call more per frame (issue 4 asks for >= 0.9x audioop's speed);
 * these functions take the frame alone (METH_O) and are bound directly as gateway.media.g711's
 * public functions, so a frame costs one C call and no argument parsing.
 *
 * The tables are built when the module loads, from the segment formulas of G.711 section 3
 * (Tables 1 and 2).  Encoding first truncates the 16-bit input to the law's uniform precision
 * (14 bits for mu-law, 13 for A-law, two's complement), then looks the code up: 16 KiB and 8 KiB
 * of tables, indexed by the truncated value's bit pattern.  Negative A-law inputs are quantised
 * by their one's complement, as the ITU-T G.191 reference encoder does.  The results are
 * byte-for-byte those of audioop (the tests compare every input).
 *
 * PCM is 16-bit in host byte order, which gwemu requires to be little-endian (gateway.media.audio
 * refuses to run elsewhere), exactly as audioop produces it.
 *
 * No state, no I/O, no clock: sans-IO like the rest of gateway/media.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

static int16_t ulaw_to_linear[256];
static int16_t alaw_to_linear[256];
static uint8_t linear14_to_ulaw[1 << 14];
static uint8_t linear13_to_alaw[1 << 13];

/* Decoded magnitude of a 7-bit mu-law code (segment, step) on the 14-bit scale: the middle of
 * the step, segment s spanning [2^(s+5) - 33, 2^(s+6) - 33) in steps of 2^(s+1). */
static int ulaw_magnitude(int code)
{
    int segment = code >> 4, step = code & 0x0F;
    return ((2 * step + 33) << segment) - 33;
}

/* Decoded magnitude of a 7-bit A-law code on the 13-bit scale: segment 0 is [0, 32) in steps of
 * 2, segment s >= 1 is [16 << s, 32 << s) in steps of 2^s; output in the middle of the step. */
static int alaw_magnitude(int code)
{
    int segment = code >> 4, step = code & 0x0F;
    if (segment == 0)
        return 2 * step + 1;
    return (2 * step + 33) << (segment - 1);
}

static int bit_length(int value)
{
    int bits = 0;
    while (value) {
        bits++;
        value >>= 1;
    }
    return bits;
}

/* mu-law code for a 14-bit magnitude: bias by 33 so that every segment starts at a power of two,
 * then the segment is the position of the top bit and the step the next four bits. */
static int ulaw_code(int magnitude)
{
    if (magnitude > 8158)
        magnitude = 8158; /* top of segment 7: overload */
    int biased = magnitude + 33;
    int segment = bit_length(biased) - 6;
    return (segment << 4) | ((biased >> (segment + 1)) & 0x0F);
}

static int alaw_code(int magnitude)
{
    if (magnitude > 4095)
        magnitude = 4095;
    if (magnitude < 32)
        return magnitude >> 1;
    int segment = bit_length(magnitude) - 5;
    return (segment << 4) | ((magnitude >> segment) & 0x0F);
}

static void build_tables(void)
{
    for (int byte = 0; byte < 256; byte++) {
        /* Bit 7 set means positive in both laws; mu-law sends the magnitude complemented,
         * A-law with its even bits inverted (G.711 Tables 1 and 2, "character signals"). */
        int positive = byte & 0x80;
        int mu = ulaw_magnitude((byte ^ 0xFF) & 0x7F) * 4; /* 14-bit scale to 16-bit */
        int a = alaw_magnitude((byte ^ 0x55) & 0x7F) * 8;  /* 13-bit scale to 16-bit */
        ulaw_to_linear[byte] = (int16_t)(positive ? mu : -mu);
        alaw_to_linear[byte] = (int16_t)(positive ? a : -a);
    }
    for (int index = 0; index < (1 << 14); index++) {
        int value = index < (1 << 13) ? index : index - (1 << 14);
        linear14_to_ulaw[index] = (uint8_t)(value < 0 ? 0x7F ^ ulaw_code(-value)
                                                      : 0xFF ^ ulaw_code(value));
    }
    for (int index = 0; index < (1 << 13); index++) {
        int value = index < (1 << 12) ? index : index - (1 << 13);
        linear13_to_alaw[index] = (uint8_t)(value < 0 ? 0x55 ^ alaw_code(-value - 1)
                                                      : 0xD5 ^ alaw_code(value));
    }
}

/* The bytes of any bytes-like argument; bytes itself (the usual case) without a buffer request. */
typedef struct {
    const uint8_t *data;
    Py_ssize_t size;
    Py_buffer view;
    int has_view;
} Input;

static int input_open(PyObject *arg, Input *input)
{
    input->has_view = 0;
    if (PyBytes_CheckExact(arg)) {
        input->data = (const uint8_t *)PyBytes_AS_STRING(arg);
        input->size = PyBytes_GET_SIZE(arg);
        return 0;
    }
    if (PyObject_GetBuffer(arg, &input->view, PyBUF_SIMPLE) < 0)
        return -1;
    input->has_view = 1;
    input->data = (const uint8_t *)input->view.buf;
    input->size = input->view.len;
    return 0;
}

static void input_close(Input *input)
{
    if (input->has_view)
        PyBuffer_Release(&input->view);
}

static PyObject *decode(PyObject *arg, const int16_t *table)
{
    Input input;
    if (input_open(arg, &input) < 0)
        return NULL;
    PyObject *result = NULL;
    if (input.size > PY_SSIZE_T_MAX / 2) {
        PyErr_NoMemory();
        goto done;
    }
    result = PyBytes_FromStringAndSize(NULL, input.size * 2);
    if (result == NULL)
        goto done;
    int16_t *out = (int16_t *)PyBytes_AS_STRING(result);
    for (Py_ssize_t i = 0; i < input.size; i++)
        out[i] = table[input.data[i]];
done:
    input_close(&input);
    return result;
}

static PyObject *encode(PyObject *arg, const uint8_t *table, int shift, const char *law)
{
    Input input;
    if (input_open(arg, &input) < 0)
        return NULL;
    PyObject *result = NULL;
    if (input.size & 1) {
        PyErr_Format(PyExc_ValueError,
                     "%s encode: %zd bytes of 16-bit PCM is not a whole number of samples",
                     law, input.size);
        goto done;
    }
    Py_ssize_t samples = input.size / 2;
    result = PyBytes_FromStringAndSize(NULL, samples);
    if (result == NULL)
        goto done;
    uint8_t *out = (uint8_t *)PyBytes_AS_STRING(result);
    const uint8_t *pcm = input.data;
    for (Py_ssize_t i = 0; i < samples; i++) {
        uint16_t sample;
        memcpy(&sample, pcm + 2 * i, 2); /* the input need not be aligned */
        out[i] = table[sample >> shift];
    }
done:
    input_close(&input);
    return result;
}

static PyObject *ulaw_decode(PyObject *module, PyObject *payload)
{
    (void)module;
    return decode(payload, ulaw_to_linear);
}

static PyObject *alaw_decode(PyObject *module, PyObject *payload)
{
    (void)module;
    return decode(payload, alaw_to_linear);
}

static PyObject *ulaw_encode(PyObject *module, PyObject *pcm)
{
    (void)module;
    return encode(pcm, linear14_to_ulaw, 2, "mu-law");
}

static PyObject *alaw_encode(PyObject *module, PyObject *pcm)
{
    (void)module;
    return encode(pcm, linear13_to_alaw, 3, "A-law");
}

static PyMethodDef methods[] = {
    {"ulaw_decode", ulaw_decode, METH_O, "mu-law to linear PCM (16-bit little-endian)."},
    {"alaw_decode", alaw_decode, METH_O, "A-law to linear PCM (16-bit little-endian)."},
    {"ulaw_encode", ulaw_encode, METH_O, "Linear PCM (16-bit little-endian) to mu-law."},
    {"alaw_encode", alaw_encode, METH_O, "Linear PCM (16-bit little-endian) to A-law."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    "gateway.media._g711",
    "G.711 encode and decode at C speed (see gateway.media.g711).",
    -1,
    methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC PyInit__g711(void)
{
    build_tables();
    return PyModule_Create(&module);
}
