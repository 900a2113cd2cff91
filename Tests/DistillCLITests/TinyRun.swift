import TestSupport

/// The first lines of the small run several command tests share (`TestCurricula.tinyRunHead`).
let tinyRunHead = TestCurricula.tinyRunHead
