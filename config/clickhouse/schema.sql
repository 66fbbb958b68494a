CREATE DATABASE IF NOT EXISTS `marketprism`;

CREATE TABLE IF NOT EXISTS `marketprism`.`trades`
(
    `exchange` LowCardinality(String),
    `market` LowCardinality(String),
    `symbol` LowCardinality(String),
    `raw_symbol` LowCardinality(String),
    `ts_event` DateTime64(9, 'UTC') CODEC(Delta, ZSTD(1)),
    `ts_recv` DateTime64(9, 'UTC') CODEC(Delta, ZSTD(1)),
    `trade_id` String,
    `price` Float64,
    `amount` Float64,
    `side` Int8,
    `aggregated` UInt8,
    `_batch_id` UInt64
)
ENGINE = MergeTree
PARTITION BY toYYYYMMDD(`ts_event`)
ORDER BY (`exchange`, `symbol`, `ts_event`)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS `marketprism`.`book_deltas`
(
    `exchange` LowCardinality(String),
    `market` LowCardinality(String),
    `symbol` LowCardinality(String),
    `raw_symbol` LowCardinality(String),
    `ts_event` DateTime64(9, 'UTC') CODEC(Delta, ZSTD(1)),
    `ts_recv` DateTime64(9, 'UTC') CODEC(Delta, ZSTD(1)),
    `side` Int8,
    `price` Float64,
    `amount` Float64,
    `first_update_id` UInt64,
    `update_id` UInt64,
    `prev_update_id` UInt64,
    `is_snapshot` UInt8,
    `checksum` Int64,
    `_batch_id` UInt64
)
ENGINE = MergeTree
PARTITION BY toYYYYMMDD(`ts_event`)
ORDER BY (`exchange`, `symbol`, `ts_event`)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS `marketprism`.`book_snapshots`
(
    `exchange` LowCardinality(String),
    `market` LowCardinality(String),
    `symbol` LowCardinality(String),
    `raw_symbol` LowCardinality(String),
    `ts_event` DateTime64(9, 'UTC') CODEC(Delta, ZSTD(1)),
    `ts_recv` DateTime64(9, 'UTC') CODEC(Delta, ZSTD(1)),
    `depth` UInt16,
    `bid_price` Array(Float64),
    `bid_amount` Array(Float64),
    `ask_price` Array(Float64),
    `ask_amount` Array(Float64),
    `update_id` UInt64,
    `_batch_id` UInt64
)
ENGINE = MergeTree
PARTITION BY toYYYYMMDD(`ts_event`)
ORDER BY (`exchange`, `symbol`, `ts_event`)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS `marketprism`.`quotes`
(
    `exchange` LowCardinality(String),
    `market` LowCardinality(String),
    `symbol` LowCardinality(String),
    `raw_symbol` LowCardinality(String),
    `ts_event` DateTime64(9, 'UTC') CODEC(Delta, ZSTD(1)),
    `ts_recv` DateTime64(9, 'UTC') CODEC(Delta, ZSTD(1)),
    `bid_price` Float64,
    `bid_amount` Float64,
    `ask_price` Float64,
    `ask_amount` Float64,
    `update_id` UInt64,
    `_batch_id` UInt64
)
ENGINE = MergeTree
PARTITION BY toYYYYMMDD(`ts_event`)
ORDER BY (`exchange`, `symbol`, `ts_event`)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS `marketprism`.`tickers`
(
    `exchange` LowCardinality(String),
    `market` LowCardinality(String),
    `symbol` LowCardinality(String),
    `raw_symbol` LowCardinality(String),
    `ts_event` DateTime64(9, 'UTC') CODEC(Delta, ZSTD(1)),
    `ts_recv` DateTime64(9, 'UTC') CODEC(Delta, ZSTD(1)),
    `last_price` Float64,
    `last_amount` Float64,
    `open_price` Float64,
    `high_price` Float64,
    `low_price` Float64,
    `volume` Float64,
    `quote_volume` Float64,
    `price_change` Float64,
    `price_change_pct` Float64,
    `weighted_avg_price` Float64,
    `bid_price` Float64,
    `bid_amount` Float64,
    `ask_price` Float64,
    `ask_amount` Float64,
    `mark_price` Float64,
    `index_price` Float64,
    `open_interest` Float64,
    `trade_count` UInt64,
    `_batch_id` UInt64
)
ENGINE = MergeTree
PARTITION BY toYYYYMMDD(`ts_event`)
ORDER BY (`exchange`, `symbol`, `ts_event`)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS `marketprism`.`klines`
(
    `exchange` LowCardinality(String),
    `market` LowCardinality(String),
    `symbol` LowCardinality(String),
    `raw_symbol` LowCardinality(String),
    `ts_event` DateTime64(9, 'UTC') CODEC(Delta, ZSTD(1)),
    `ts_recv` DateTime64(9, 'UTC') CODEC(Delta, ZSTD(1)),
    `interval` LowCardinality(String),
    `open_time` DateTime64(9, 'UTC') CODEC(Delta, ZSTD(1)),
    `close_time` DateTime64(9, 'UTC') CODEC(Delta, ZSTD(1)),
    `open` Float64,
    `high` Float64,
    `low` Float64,
    `close` Float64,
    `volume` Float64,
    `quote_volume` Float64,
    `taker_buy_volume` Float64,
    `taker_buy_quote_volume` Float64,
    `trade_count` UInt64,
    `closed` UInt8,
    `_batch_id` UInt64
)
ENGINE = MergeTree
PARTITION BY toYYYYMMDD(`ts_event`)
ORDER BY (`exchange`, `symbol`, `ts_event`)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS `marketprism`.`funding_rates`
(
    `exchange` LowCardinality(String),
    `market` LowCardinality(String),
    `symbol` LowCardinality(String),
    `raw_symbol` LowCardinality(String),
    `ts_event` DateTime64(9, 'UTC') CODEC(Delta, ZSTD(1)),
    `ts_recv` DateTime64(9, 'UTC') CODEC(Delta, ZSTD(1)),
    `funding_rate` Float64,
    `predicted_rate` Float64,
    `mark_price` Float64,
    `index_price` Float64,
    `funding_time` DateTime64(9, 'UTC') CODEC(Delta, ZSTD(1)),
    `_batch_id` UInt64
)
ENGINE = MergeTree
PARTITION BY toYYYYMMDD(`ts_event`)
ORDER BY (`exchange`, `symbol`, `ts_event`)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS `marketprism`.`open_interest`
(
    `exchange` LowCardinality(String),
    `market` LowCardinality(String),
    `symbol` LowCardinality(String),
    `raw_symbol` LowCardinality(String),
    `ts_event` DateTime64(9, 'UTC') CODEC(Delta, ZSTD(1)),
    `ts_recv` DateTime64(9, 'UTC') CODEC(Delta, ZSTD(1)),
    `open_interest` Float64,
    `open_interest_value` Float64,
    `_batch_id` UInt64
)
ENGINE = MergeTree
PARTITION BY toYYYYMMDD(`ts_event`)
ORDER BY (`exchange`, `symbol`, `ts_event`)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS `marketprism`.`liquidations`
(
    `exchange` LowCardinality(String),
    `market` LowCardinality(String),
    `symbol` LowCardinality(String),
    `raw_symbol` LowCardinality(String),
    `ts_event` DateTime64(9, 'UTC') CODEC(Delta, ZSTD(1)),
    `ts_recv` DateTime64(9, 'UTC') CODEC(Delta, ZSTD(1)),
    `side` Int8,
    `price` Float64,
    `amount` Float64,
    `order_id` String,
    `status` LowCardinality(String),
    `_batch_id` UInt64
)
ENGINE = MergeTree
PARTITION BY toYYYYMMDD(`ts_event`)
ORDER BY (`exchange`, `symbol`, `ts_event`)
SETTINGS non_replicated_deduplication_window = 10000;
