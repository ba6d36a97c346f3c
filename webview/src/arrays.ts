// Arrays on the wire: {dtype, shape, data: base64 of little-endian bytes} (README "Protocol reference").

export interface WireArray {
  dtype: "float32" | "int32" | "uint8";
  shape: number[];
  data: string;
}

/** Decode a wire array into the typed array of its dtype (a view of the decoded bytes). */
export function decodeArray(a: WireArray): Float32Array | Int32Array | Uint8Array {
  const bin = atob(a.data);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  if (a.dtype === "float32") return new Float32Array(bytes.buffer);
  if (a.dtype === "int32") return new Int32Array(bytes.buffer);
  return bytes;
}
