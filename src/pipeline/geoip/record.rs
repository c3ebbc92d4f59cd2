//! The two shapes a City database's records come in, read into one [`Location`].
//!
//! MaxMind's GeoIP2/GeoLite2 City (and GeoIP2-compatible files such as DB-IP's own) nest the place:
//!
//! ```text
//! { "country": { "iso_code": "DE", "names": {…} }, "city": { "names": { "en": "Berlin", … } },
//!   "subdivisions": [ … ], "location": { "latitude": …, "longitude": … }, … }
//! ```
//!
//! The free ip-location-db files (`dbip-city-mmdb`, `geolite2-city-mmdb`) are flat:
//!
//! ```text
//! { "country_code": "DE", "city": "Berlin", "state1": "Berlin", "latitude": …, "longitude": … }
//! ```
//!
//! Their metadata does not say which shape they use (dbip-city-mmdb's `database_type` is
//! `"city ipv4"`), so each record is read by what its values are: `city` is a map in one schema and
//! a string in the other, and whichever country field is present is taken. Only the country and
//! the city are decoded, because they are what a scan event carries; every other field is skipped.
//! Both are borrowed from the database's map; the caller copies them once per record (`places`).

use std::fmt;

use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;

/// One record of either schema.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Record<'a> {
    /// GeoIP2: `country.iso_code`.
    #[serde(borrow)]
    country: Option<Country<'a>>,
    /// ip-location-db: `country_code`.
    country_code: Option<&'a str>,
    /// GeoIP2: `city.names.en`; ip-location-db: `city`.
    #[serde(borrow)]
    city: Option<CityName<'a>>,
}

impl<'a> Record<'a> {
    /// The country code and the city name, empty when unknown.
    pub(super) fn place(&self) -> (&'a str, &'a str) {
        let country = self
            .country
            .as_ref()
            .and_then(|c| c.iso_code)
            .or(self.country_code)
            .unwrap_or_default();
        (country, self.city.as_ref().map_or("", |c| c.0))
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Country<'a> {
    iso_code: Option<&'a str>,
}

/// GeoIP2's `city` map; only the English name is kept.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct NestedCity<'a> {
    #[serde(borrow)]
    names: Names<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Names<'a> {
    en: Option<&'a str>,
}

/// The English city name, from a GeoIP2 `city` map or a flat `city` string.
#[derive(Debug)]
struct CityName<'a>(&'a str);

impl<'de: 'a, 'a> Deserialize<'de> for CityName<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EitherShape;

        impl<'de> Visitor<'de> for EitherShape {
            type Value = CityName<'de>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a city name or a GeoIP2 city map")
            }

            fn visit_borrowed_str<E: serde::de::Error>(
                self,
                name: &'de str,
            ) -> Result<CityName<'de>, E> {
                Ok(CityName(name))
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<CityName<'de>, A::Error> {
                let city = NestedCity::deserialize(MapAccessDeserializer::new(map))?;
                Ok(CityName(city.names.en.unwrap_or_default()))
            }
        }

        deserializer.deserialize_any(EitherShape)
    }
}
