//! The HTTP/1.1 exchange of the HTTP sink with a write API (InfluxDB, VictoriaMetrics, Telegraf):
//! the request that carries a batch, and the bounded, incremental reader of the answer.

pub mod date;
pub mod request;
pub mod response;
pub mod write_answer;
