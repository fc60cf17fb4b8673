//! The Sparkplug B wire format: the topic namespace and the protobuf subset of Tahu's
//! `Payload` the mirror reads and writes.

/// The topic namespace of Sparkplug B.
pub(crate) const NAMESPACE: &str = "spBv1.0";

/// The metric that numbers an edge node's MQTT sessions.
pub(crate) const BD_SEQ: &str = "bdSeq";

/// The subset of Tahu's `Payload` that the mirror reads and writes.
///
/// Why hand-written `prost` derives rather than code generated from `sparkplug_b.proto`:
/// `prost` is the protobuf crate the Rust ecosystem settled on, and its derive needs no
/// `protoc` and no build script, so the workspace still builds with cargo alone. Protobuf
/// skips the fields a message does not declare, so declaring only what the mirror uses
/// still decodes a full Tahu payload (uuid, body, metadata, properties, datasets,
/// templates). Field numbers and types follow `sparkplug_b.proto`, which is proto2:
/// every scalar is optional.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Payload {
    /// Milliseconds since the Unix epoch when the message was sent.
    #[prost(uint64, optional, tag = "1")]
    pub timestamp: Option<u64>,
    /// The metrics.
    #[prost(message, repeated, tag = "2")]
    pub metrics: Vec<Metric>,
    /// The node's message counter, 0 to 255; absent in NDEATH and commands.
    #[prost(uint64, optional, tag = "3")]
    pub seq: Option<u64>,
}

/// One metric of a [`Payload`]: Tahu's `Payload.Metric` without metadata and properties.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Metric {
    /// Its name; BIRTHs carry it, DATA may carry the alias instead.
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    /// A number standing for the name, defined by a BIRTH.
    #[prost(uint64, optional, tag = "2")]
    pub alias: Option<u64>,
    /// Milliseconds since the Unix epoch when it was measured.
    #[prost(uint64, optional, tag = "3")]
    pub timestamp: Option<u64>,
    /// A [`datatype`] code; BIRTHs carry it, DATA may leave it to the BIRTH.
    #[prost(uint32, optional, tag = "4")]
    pub datatype: Option<u32>,
    /// Backfilled history, not the current value.
    #[prost(bool, optional, tag = "5")]
    pub is_historical: Option<bool>,
    /// No value (a failed read), said explicitly.
    #[prost(bool, optional, tag = "7")]
    pub is_null: Option<bool>,
    /// The value, in the field its datatype uses.
    #[prost(oneof = "MetricValue", tags = "10, 11, 12, 13, 14, 15, 16")]
    pub value: Option<MetricValue>,
}

/// The scalar members of `Metric.value`. DataSet, Template and extension values (17 to
/// 19) are skipped on decoding, like any undeclared field.
#[derive(Clone, PartialEq, prost::Oneof)]
pub(crate) enum MetricValue {
    /// `int_value`: 8-, 16- and 32-bit integers, signed ones as two's complement.
    #[prost(uint32, tag = "10")]
    Int(u32),
    /// `long_value`: 64-bit integers (and unsigned 32-bit, DateTime).
    #[prost(uint64, tag = "11")]
    Long(u64),
    /// `float_value`.
    #[prost(float, tag = "12")]
    Float(f32),
    /// `double_value`.
    #[prost(double, tag = "13")]
    Double(f64),
    /// `boolean_value`.
    #[prost(bool, tag = "14")]
    Boolean(bool),
    /// `string_value`: String, Text and UUID.
    #[prost(string, tag = "15")]
    String(String),
    /// `bytes_value`: Bytes and File, which the mirror does not read.
    #[prost(bytes = "vec", tag = "16")]
    Bytes(Vec<u8>),
}

/// Sparkplug datatype codes (Tahu's `DataType`), the scalar ones the mirror reads.
pub(crate) mod datatype {
    /// Declared by neither the metric nor its BIRTH: read by the value's field.
    pub const UNKNOWN: u32 = 0;
    pub const INT8: u32 = 1;
    pub const INT16: u32 = 2;
    pub const INT32: u32 = 3;
    pub const INT64: u32 = 4;
    pub const UINT8: u32 = 5;
    pub const UINT16: u32 = 6;
    pub const UINT32: u32 = 7;
    pub const UINT64: u32 = 8;
    pub const FLOAT: u32 = 9;
    pub const DOUBLE: u32 = 10;
    pub const BOOLEAN: u32 = 11;
    pub const STRING: u32 = 12;
    /// Milliseconds since the Unix epoch, in `long_value`.
    pub const DATETIME: u32 = 13;
    pub const TEXT: u32 = 14;
    pub const UUID: u32 = 15;
    pub const BYTES: u32 = 17;

    /// Its name in the specification, for messages.
    pub fn name(code: u32) -> String {
        const NAMES: [&str; 22] = [
            "Unknown",
            "Int8",
            "Int16",
            "Int32",
            "Int64",
            "UInt8",
            "UInt16",
            "UInt32",
            "UInt64",
            "Float",
            "Double",
            "Boolean",
            "String",
            "DateTime",
            "Text",
            "UUID",
            "DataSet",
            "Bytes",
            "File",
            "Template",
            "PropertySet",
            "PropertySetList",
        ];
        match NAMES.get(code as usize) {
            Some(n) => (*n).to_string(),
            None => format!("datatype {code}"),
        }
    }
}
