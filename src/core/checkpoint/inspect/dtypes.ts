// Element types of checkpoint tensors: their byte sizes, and the names each format gives them,
// mapped to the lower-case names TensorEntry.dtype uses (the ONNX/PyTorch spelling: float32, ...).
// The tables are looked up with names from files, so they have no prototype: a dtype named
// 'constructor' or 'toString' finds nothing, not Object's function.

/** A frozen lookup table without a prototype. */
function lookupTable<K extends string | number, V>(entries: Record<K, V>): Readonly<Record<K, V>> {
  return Object.freeze(Object.assign(Object.create(null) as Record<K, V>, entries));
}

/** Bytes per element; absent for types whose elements are not whole bytes or not fixed (string, int4). */
const ITEM_SIZES: Readonly<Record<string, number>> = lookupTable({
  float64: 8, float32: 4, float16: 2, bfloat16: 2,
  float8_e4m3fn: 1, float8_e4m3fnuz: 1, float8_e5m2: 1, float8_e5m2fnuz: 1, float8_e8m0fnu: 1,
  int64: 8, int32: 4, int16: 2, int8: 1,
  uint64: 8, uint32: 4, uint16: 2, uint8: 1,
  bool: 1,
  complex64: 8, complex128: 16, complex32: 4,
  qint8: 1, quint8: 1, qint32: 4,
});

export function itemSize(dtype: string): number | undefined {
  return ITEM_SIZES[dtype];
}

/** safetensors dtype codes (the spec's list). */
export const SAFETENSORS_DTYPES: Readonly<Record<string, string>> = lookupTable({
  F64: 'float64', F32: 'float32', F16: 'float16', BF16: 'bfloat16',
  F8_E4M3: 'float8_e4m3fn', F8_E5M2: 'float8_e5m2', F8_E8M0: 'float8_e8m0fnu',
  I64: 'int64', I32: 'int32', I16: 'int16', I8: 'int8',
  U64: 'uint64', U32: 'uint32', U16: 'uint16', U8: 'uint8',
  BOOL: 'bool', C64: 'complex64',
});

/** PyTorch's legacy typed storage classes (torch.FloatStorage, ...), as torch.save names a storage's type. */
export const TORCH_STORAGE_DTYPES: Readonly<Record<string, string>> = lookupTable({
  DoubleStorage: 'float64', FloatStorage: 'float32', HalfStorage: 'float16', BFloat16Storage: 'bfloat16',
  LongStorage: 'int64', IntStorage: 'int32', ShortStorage: 'int16', CharStorage: 'int8', ByteStorage: 'uint8',
  BoolStorage: 'bool', ComplexFloatStorage: 'complex64', ComplexDoubleStorage: 'complex128',
  QInt8Storage: 'qint8', QUInt8Storage: 'quint8', QInt32Storage: 'qint32',
  Float8_e4m3fnStorage: 'float8_e4m3fn', Float8_e5m2Storage: 'float8_e5m2',
  Float8_e4m3fnuzStorage: 'float8_e4m3fnuz', Float8_e5m2fnuzStorage: 'float8_e5m2fnuz',
  UInt16Storage: 'uint16', UInt32Storage: 'uint32', UInt64Storage: 'uint64',
});

/** torch dtype objects as pickled globals (torch.float32, torch.half, ...). */
export const TORCH_DTYPES: Readonly<Record<string, string>> = lookupTable({
  float64: 'float64', double: 'float64', float32: 'float32', float: 'float32',
  float16: 'float16', half: 'float16', bfloat16: 'bfloat16',
  int64: 'int64', long: 'int64', int32: 'int32', int: 'int32', int16: 'int16', short: 'int16', int8: 'int8',
  uint8: 'uint8', uint16: 'uint16', uint32: 'uint32', uint64: 'uint64', bool: 'bool',
  complex64: 'complex64', cfloat: 'complex64', complex128: 'complex128', cdouble: 'complex128',
  complex32: 'complex32', chalf: 'complex32',
  float8_e4m3fn: 'float8_e4m3fn', float8_e5m2: 'float8_e5m2',
  float8_e4m3fnuz: 'float8_e4m3fnuz', float8_e5m2fnuz: 'float8_e5m2fnuz', float8_e8m0fnu: 'float8_e8m0fnu',
  qint8: 'qint8', quint8: 'quint8', qint32: 'qint32',
});

/** numpy dtype descriptors ('f4', 'i8', ...) without their byte-order character. */
export const NUMPY_DTYPES: Readonly<Record<string, string>> = lookupTable({
  f8: 'float64', f4: 'float32', f2: 'float16',
  i8: 'int64', i4: 'int32', i2: 'int16', i1: 'int8',
  u8: 'uint64', u4: 'uint32', u2: 'uint16', u1: 'uint8', b1: 'bool',
  c8: 'complex64', c16: 'complex128',
});

/** ONNX TensorProto.DataType codes beyond ELEM_TYPE_NAMES of onnxSchema.ts (which the contract uses). */
export const ONNX_EXTRA_TYPES: Readonly<Record<number, string>> = lookupTable({
  14: 'complex64', 15: 'complex128',
  17: 'float8_e4m3fn', 18: 'float8_e4m3fnuz', 19: 'float8_e5m2', 20: 'float8_e5m2fnuz',
  21: 'uint4', 22: 'int4', 23: 'float4_e2m1', 24: 'float8_e8m0fnu',
});

/** Row-major (C-order) strides of a shape, in elements. */
export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

/** True when elements laid out with `stride` are contiguous in C order (dimensions of size 1 may have any stride). */
export function isContiguous(shape: readonly number[], stride: readonly number[]): boolean {
  if (shape.length !== stride.length) return false;
  if (shape.some((d) => d === 0)) return true;
  const expected = contiguousStrides(shape);
  return shape.every((d, i) => d === 1 || stride[i] === expected[i]);
}

export function product(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
