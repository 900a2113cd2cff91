import Eval
import Testing

// maj@k's vote: equivalent answers pool their votes, samples without an answer abstain, and a tie goes to
// the answer whose first vote came earliest (the rule documented on MajorityVote).

@Test func majorityWinsOutright() {
    #expect(MajorityVote.winner(["3", "5", "5", "7"]) == "5")
    #expect(MajorityVote.winner(["12"]) == "12")
}

@Test func tiesGoToTheAnswerSeenFirst() {
    #expect(MajorityVote.winner(["5", "7", "7", "5"]) == "5")
    #expect(MajorityVote.winner(["7", "5", "5", "7"]) == "7")
    #expect(MajorityVote.winner(["1", "2", "3"]) == "1")
    // A three-way tie at two votes each: b voted first.
    #expect(MajorityVote.winner(["b", "c", "a", "a", "c", "b"]) == "b")
    // The later answer gaining a strict majority does win.
    #expect(MajorityVote.winner(["5", "7", "7", "5", "7"]) == "7")
}

@Test func equivalentAnswersShareVotes() {
    // 1/2, 0.5 and \frac{1}{2} are one answer (three votes) against 3 (two votes); the winner is the first spelling.
    #expect(MajorityVote.winner(["3", "1/2", "0.5", "3", "\\frac{1}{2}"]) == "1/2")
    // 1,000 and 1000 are one answer; tied 2-2 with 7, which was seen first.
    #expect(MajorityVote.winner(["7", "1,000", "7", "1000"]) == "7")
    // Words compare case-insensitively.
    #expect(MajorityVote.winner(["even", "Odd", "odd"]) == "Odd")
    #expect(MajorityVote.AnswerKey("x = 5") == MajorityVote.AnswerKey("5"))
    #expect(MajorityVote.AnswerKey("5") != MajorityVote.AnswerKey("6"))
}

@Test func samplesWithoutAnAnswerAbstain() {
    #expect(MajorityVote.winner([nil, nil, "4", nil]) == "4")
    #expect(MajorityVote.winner([nil, "2", "3", nil, "3"]) == "3")
    #expect(MajorityVote.winner([nil, nil]) == nil)
    #expect(MajorityVote.winner([]) == nil)
}
