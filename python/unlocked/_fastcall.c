/*
 * The reduction fast path of the Python package: one C function that takes a
 * numpy array and a centre, fills a runtime's unlocked_call, releases the GIL
 * around unlocked_run_call and returns the Python number.
 *
 * Why C: through ctypes the same call cost about 2 µs over the engine's own
 * time at any size (the array's address alone, c_char.from_buffer, 0.4 µs;
 * packing the call block and unpacking the result 0.3 µs; the foreign call
 * 0.35 µs), against a target of 1 µs. Here it is one buffer request and a
 * direct call.
 *
 * Only the common case is handled: a C-contiguous numpy array of int32,
 * int64, float32 or float64 in native byte order, and an exact int (or, for
 * float arrays, a float) centre within range. Anything else returns None, and
 * the Python caller takes its general path, which either handles it or raises
 * the one-line error. The library is not linked: bind() receives the address
 * of unlocked_run_call from the ctypes handle, so the extension always calls
 * the library the package loaded.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "unlocked.h"

static int (*run_call)(unlocked_call *);
static PyTypeObject *ndarray_type;
static PyObject *error_of; /* _library.error: status -> exception */

static PyObject *bind(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    if (nargs != 3 || !PyType_Check(args[1]) || !PyCallable_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "bind(run_call address, numpy.ndarray, error function)");
        return NULL;
    }
    void *function = PyLong_AsVoidPtr(args[0]);
    if (function == NULL) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "bind: the run_call address is NULL");
        return NULL;
    }
    run_call = (int (*)(unlocked_call *))function;
    Py_INCREF(args[1]);
    Py_XSETREF(ndarray_type, (PyTypeObject *)args[1]);
    Py_INCREF(args[2]);
    Py_XSETREF(error_of, args[2]);
    Py_RETURN_NONE;
}

/* The unlocked_dtype of a buffer's single-character native format, or 0. */
static int32_t dtype_of(const Py_buffer *view) {
    const char *format = view->format;
    if (format == NULL || format[0] == 0 || format[1] != 0) return 0;
    switch (format[0]) {
    case 'i': case 'l': case 'q':
        return view->itemsize == 4 ? UNLOCKED_I32 : view->itemsize == 8 ? UNLOCKED_I64 : 0;
    case 'f':
        return view->itemsize == 4 ? UNLOCKED_F32 : 0;
    case 'd':
        return view->itemsize == 8 ? UNLOCKED_F64 : 0;
    default:
        return 0;
    }
}

/* hi * 2^64 + lo, hi read as signed for INT128. */
static PyObject *wide(uint64_t lo, uint64_t hi, int is_signed) {
    PyObject *high = is_signed ? PyLong_FromLongLong((long long)hi) : PyLong_FromUnsignedLongLong(hi);
    PyObject *low = PyLong_FromUnsignedLongLong(lo);
    PyObject *shift = PyLong_FromLong(64);
    PyObject *shifted = high && shift ? PyNumber_Lshift(high, shift) : NULL;
    PyObject *value = shifted && low ? PyNumber_Add(shifted, low) : NULL;
    Py_XDECREF(high);
    Py_XDECREF(low);
    Py_XDECREF(shift);
    Py_XDECREF(shifted);
    return value;
}

/* reduce(call address, kernel address, a, center) -> int | float | None */
static PyObject *reduce(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "reduce(call address, kernel address, array, center)");
        return NULL;
    }
    if (run_call == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "unlocked._fastcall: bind() was not called");
        return NULL;
    }
    unlocked_call *call = PyLong_AsVoidPtr(args[0]);
    const char *kernel = PyLong_AsVoidPtr(args[1]);
    if (call == NULL || kernel == NULL) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "reduce: NULL call or kernel address");
        return NULL;
    }
    PyObject *array = args[2], *center = args[3];
    if (!PyObject_TypeCheck(array, ndarray_type)) Py_RETURN_NONE;
    Py_buffer view;
    if (PyObject_GetBuffer(array, &view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
        PyErr_Clear(); /* not C-contiguous, or another reason the general path will name */
        Py_RETURN_NONE;
    }
    int32_t dtype = dtype_of(&view);
    int64_t center_int = 0;
    double center_float = 0;
    int usual = dtype != 0;
    if (usual && (dtype == UNLOCKED_I32 || dtype == UNLOCKED_I64)) {
        int overflow = 0;
        long long value = PyLong_CheckExact(center) ? PyLong_AsLongLongAndOverflow(center, &overflow) : 0;
        usual = PyLong_CheckExact(center) && !overflow && !(value == -1 && PyErr_Occurred())
                && (dtype == UNLOCKED_I64 || (value >= INT32_MIN && value <= INT32_MAX));
        center_int = value;
        center_float = (double)value;
    } else if (usual && PyFloat_CheckExact(center)) {
        center_float = PyFloat_AS_DOUBLE(center);
    } else if (usual && PyLong_CheckExact(center)) {
        center_float = PyLong_AsDouble(center);
        usual = !(center_float == -1.0 && PyErr_Occurred());
    } else {
        usual = 0;
    }
    if (!usual) {
        PyErr_Clear();
        PyBuffer_Release(&view);
        Py_RETURN_NONE;
    }
    call->dtype = dtype;
    call->kernel = kernel;
    call->input = view.buf;
    call->count = (uint64_t)(view.len / view.itemsize);
    call->center_int = center_int;
    call->center_float = center_float;
    call->output = NULL;
    call->output_capacity = 0;
    call->output_dtype = 0;
    int status;
    /* The buffer stays held over the call: the array cannot be resized meanwhile. */
    Py_BEGIN_ALLOW_THREADS
    status = run_call(call);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    if (status != UNLOCKED_OK) {
        PyObject *error = PyObject_CallFunction(error_of, "i", status);
        if (error != NULL) {
            PyErr_SetObject((PyObject *)Py_TYPE(error), error);
            Py_DECREF(error);
        }
        return NULL;
    }
    const unlocked_result *result = &call->result;
    switch (result->value_kind) {
    case UNLOCKED_VALUE_UINT128:
        return result->hi == 0 ? PyLong_FromUnsignedLongLong(result->lo) : wide(result->lo, result->hi, 0);
    case UNLOCKED_VALUE_INT128:
        if ((result->hi == 0 && result->lo <= INT64_MAX) || (result->hi == UINT64_MAX && result->lo > INT64_MAX)) {
            return PyLong_FromLongLong((long long)result->lo);
        }
        return wide(result->lo, result->hi, 1);
    default:
        return PyFloat_FromDouble(result->f);
    }
}

static PyMethodDef methods[] = {
    {"bind", (PyCFunction)(void (*)(void))bind, METH_FASTCALL,
     "bind(run_call address, numpy.ndarray, error function): what reduce calls."},
    {"reduce", (PyCFunction)(void (*)(void))reduce, METH_FASTCALL,
     "reduce(call address, kernel address, array, center) -> int | float | None (None: not the common case)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "unlocked._fastcall", "The reduction fast path (see _fastcall.c).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__fastcall(void) { return PyModule_Create(&module); }
