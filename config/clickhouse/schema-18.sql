CREATE DATABASE IF NOT EXISTS `marketprism`;

CREATE TABLE IF NOT EXISTS `marketprism`.`trades`
(
    `exchange` String,
    `market` String,
    `symbol` String,
    `raw_symbol` String,
    `ts_event` Int64,
    `ts_recv` Int64,
    `trade_id` String,
    `price` Float64,
    `amount` Float64,
    `side` Int8,
    `aggregated` UInt8,
    `_batch_id` UInt64
)
ENGINE = MergeTree
PARTITION BY toYYYYMMDD(toDateTime(intDiv(`ts_event`, 1000000000), 'UTC'))
ORDER BY (`exchange`, `symbol`, `ts_event`);

CREATE TABLE IF NOT EXISTS `marketprism`.`book_deltas`
(
    `exchange` String,
    `market` String,
    `symbol` String,
    `raw_symbol` String,
    `ts_event` Int64,
    `ts_recv` Int64,
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
PARTITION BY toYYYYMMDD(toDateTime(intDiv(`ts_event`, 1000000000), 'UTC'))
ORDER BY (`exchange`, `symbol`, `ts_event`);

CREATE TABLE IF NOT EXISTS `marketprism`.`book_snapshots`
(
    `exchange` String,
    `market` String,
    `symbol` String,
    `raw_symbol` String,
    `ts_event` Int64,
    `ts_recv` Int64,
    `depth` UInt16,
    `bid_price` Array(Float64),
    `bid_amount` Array(Float64),
    `ask_price` Array(Float64),
    `ask_amount` Array(Float64),
    `update_id` UInt64,
    `_batch_id` UInt64
)
ENGINE = MergeTree
PARTITION BY toYYYYMMDD(toDateTime(intDiv(`ts_event`, 1000000000), 'UTC'))
ORDER BY (`exchange`, `symbol`, `ts_event`);

CREATE TABLE IF NOT EXISTS `marketprism`.`quotes`
(
    `exchange` String,
    `market` String,
    `symbol` String,
    `raw_symbol` String,
    `ts_event` Int64,
    `ts_recv` Int64,
    `bid_price` Float64,
    `bid_amount` Float64,
    `ask_price` Float64,
    `ask_amount` Float64,
    `update_id` UInt64,
    `_batch_id` UInt64
)
ENGINE = MergeTree
PARTITION BY toYYYYMMDD(toDateTime(intDiv(`ts_event`, 1000000000), 'UTC'))
ORDER BY (`exchange`, `symbol`, `ts_event`);

CREATE TABLE IF NOT EXISTS `marketprism`.`tickers`
(
    `exchange` String,
    `market` String,
    `symbol` String,
    `raw_symbol` String,
    `ts_event` Int64,
    `ts_recv` Int64,
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
PARTITION BY toYYYYMMDD(toDateTime(intDiv(`ts_event`, 1000000000), 'UTC'))
ORDER BY (`exchange`, `symbol`, `ts_event`);

CREATE TABLE IF NOT EXISTS `marketprism`.`klines`
(
    `exchange` String,
    `market` String,
    `symbol` String,
    `raw_symbol` String,
    `ts_event` Int64,
    `ts_recv` Int64,
    `interval` String,
    `open_time` Int64,
    `close_time` Int64,
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
PARTITION BY toYYYYMMDD(toDateTime(intDiv(`ts_event`, 1000000000), 'UTC'))
ORDER BY (`exchange`, `symbol`, `ts_event`);

CREATE TABLE IF NOT EXISTS `marketprism`.`funding_rates`
(
    `exchange` String,
    `market` String,
    `symbol` String,
    `raw_symbol` String,
    `ts_event` Int64,
    `ts_recv` Int64,
    `funding_rate` Float64,
    `predicted_rate` Float64,
    `mark_price` Float64,
    `index_price` Float64,
    `funding_time` Int64,
    `_batch_id` UInt64
)
ENGINE = MergeTree
PARTITION BY toYYYYMMDD(toDateTime(intDiv(`ts_event`, 1000000000), 'UTC'))
ORDER BY (`exchange`, `symbol`, `ts_event`);

CREATE TABLE IF NOT EXISTS `marketprism`.`open_interest`
(
    `exchange` String,
    `market` String,
    `symbol` String,
    `raw_symbol` String,
    `ts_event` Int64,
    `ts_recv` Int64,
    `open_interest` Float64,
    `open_interest_value` Float64,
    `_batch_id` UInt64
)
ENGINE = MergeTree
PARTITION BY toYYYYMMDD(toDateTime(intDiv(`ts_event`, 1000000000), 'UTC'))
ORDER BY (`exchange`, `symbol`, `ts_event`);

CREATE TABLE IF NOT EXISTS `marketprism`.`liquidations`
(
    `exchange` String,
    `market` String,
    `symbol` String,
    `raw_symbol` String,
    `ts_event` Int64,
    `ts_recv` Int64,
    `side` Int8,
    `price` Float64,
    `amount` Float64,
    `order_id` String,
    `status` String,
    `_batch_id` UInt64
)
ENGINE = MergeTree
PARTITION BY toYYYYMMDD(toDateTime(intDiv(`ts_event`, 1000000000), 'UTC'))
ORDER BY (`exchange`, `symbol`, `ts_event`);
