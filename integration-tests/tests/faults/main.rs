//! The fault suite of svscan (scenarios to come).
