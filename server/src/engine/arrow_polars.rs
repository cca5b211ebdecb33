//! Arrow-rs arrays as polars series: a point read decodes its pages with arrow-rs (which
//! reads the page index) and hands the rows to polars, which runs the rest of the request.
//!
//! The values are copied: a point read holds a few thousand rows, and the copy keeps the
//! two Arrow implementations apart without `unsafe` (their shared C data interface would
//! need it).

use polars::prelude::*;

/// Arrow-rs arrays of one column as a polars series, for the types the portal stores.
pub fn series(name: &str, arrays: &[arrow_array::ArrayRef]) -> PolarsResult<Series> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Date32Type, Float64Type, Int32Type, Int64Type, TimestampMicrosecondType};
    use arrow_schema::{DataType as A, TimeUnit as U};

    let name = PlSmallStr::from(name);
    let Some(first) = arrays.first() else {
        return Ok(Series::new_empty(name, &DataType::Null));
    };
    let unsupported = || PolarsError::ComputeError(format!("no conversion from {}", first.data_type()).into());
    Ok(match first.data_type() {
        A::Boolean => {
            BooleanChunked::from_iter_options(name, arrays.iter().flat_map(|a| a.as_boolean().iter())).into_series()
        }
        A::Int64 => {
            Int64Chunked::from_iter_options(name, arrays.iter().flat_map(|a| a.as_primitive::<Int64Type>().iter()))
                .into_series()
        }
        A::Int32 => {
            Int32Chunked::from_iter_options(name, arrays.iter().flat_map(|a| a.as_primitive::<Int32Type>().iter()))
                .into_series()
        }
        A::Float64 => {
            Float64Chunked::from_iter_options(name, arrays.iter().flat_map(|a| a.as_primitive::<Float64Type>().iter()))
                .into_series()
        }
        A::Date32 => {
            Int32Chunked::from_iter_options(name, arrays.iter().flat_map(|a| a.as_primitive::<Date32Type>().iter()))
                .into_date()
                .into_series()
        }
        A::Timestamp(U::Microsecond, None) => Int64Chunked::from_iter_options(
            name,
            arrays.iter().flat_map(|a| a.as_primitive::<TimestampMicrosecondType>().iter()),
        )
        .into_datetime(TimeUnit::Microseconds, None)
        .into_series(),
        A::Utf8View => {
            StringChunked::from_iter_options(name, arrays.iter().flat_map(|a| a.as_string_view().iter())).into_series()
        }
        A::LargeUtf8 => StringChunked::from_iter_options(name, arrays.iter().flat_map(|a| a.as_string::<i64>().iter()))
            .into_series(),
        A::Utf8 => StringChunked::from_iter_options(name, arrays.iter().flat_map(|a| a.as_string::<i32>().iter()))
            .into_series(),
        _ => return Err(unsupported()),
    })
}
