// What the built-in settings say about their stage (see `StageConfiguration`), so that no code matches kinds by name.

extension TeacherTracesConfiguration {
    public var producesTeacherTraces: Bool { true }
}

extension OutputDistillConfiguration {
    public var distillationSteps: Int { training.steps }
}

extension FeatureAlignConfiguration {
    public var distillationSteps: Int { output.training.steps }
}
